#!/usr/bin/env bash
# scripts/walkthrough.sh: runs the README's walk-throughs exactly as written, against the demo that
# `npm start` runs from this checkout (.demo/), and fails at the first command that does.
#
# The README is the only source: every ```sh block of the sections "Walk-through: onboard a cafe",
# "Walk-through: a booking" and "Payments" (subsections included), in order, in one bash with
# `set -euo pipefail` and inherit_errexit, from the root of the checkout. The blocks check their own
# answers (their `check` fails on an HTTP status the README does not expect, refusals included), so
# a README command that no longer works fails this script. Run it as often as you like against one
# demo: the commands take their ids from the answers. Needs bash, curl, jq and GNU date.
#
#   scripts/walkthrough.sh            run them
#   scripts/walkthrough.sh --print    print the script it would run
set -euo pipefail
cd "$(dirname "$0")/.."

README=README.md
SECTIONS=('Walk-through: onboard a cafe' 'Walk-through: a booking' 'Payments')

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "walkthrough: the README's commands need $tool; install it (apt-get install $tool, brew install $tool)" >&2; exit 1; }
done

# The blocks, each line prefixed with its README line number (<number>\t<line>); a line "@<number>\t<title>"
# opens each block.
extract() {
  awk -v wanted="$(printf '%s\n' "${SECTIONS[@]}")" '
    BEGIN { n = split(wanted, list, "\n"); for (i = 1; i <= n; i++) keep[list[i]] = 1 }
    /^## / && !inblock { section = substr($0, 4); active = (section in keep); next }
    active && !inblock && /^```sh[[:space:]]*$/ { inblock = 1; printf "@%d\t%s\n", NR, section; next }
    inblock && /^```[[:space:]]*$/ { inblock = 0; next }
    inblock { printf "%d\t%s\n", NR, $0 }
  ' "$README"
}

blocks=$(extract)
for section in "${SECTIONS[@]}"; do
  grep -q "^@[0-9]*	$section\$" <<<"$blocks" || { echo "walkthrough: $README has no sh block in a section \"$section\"" >&2; exit 1; }
done

# The script: a prologue, then the README's lines verbatim. README_LINE maps each line of the script to
# the README line it came from, for the message of a failure.
prologue=(
  'set -eEuo pipefail'
  'shopt -s inherit_errexit'
  'trap '\''status=$? line=${README_LINE[$LINENO]:-0}; echo "walkthrough: failed (status $status) at README.md line $line: $(sed -n "${line}p" README.md)" >&2; exit $status'\'' ERR'
)
script=$(
  line=$(( ${#prologue[@]} + 2 ))
  declare -a map
  body=''
  while IFS=$'\t' read -r number text; do
    if [[ $number == @* ]]; then
      text="echo; echo \"### README.md line ${number#@}: $text\""
      number=${number#@}
    fi
    map[line]=$number
    body+="$text"$'\n'
    line=$((line + 1))
  done <<<"$blocks"
  printf '%s\n' "${prologue[@]}"
  echo "declare -A README_LINE=($(for index in "${!map[@]}"; do printf '[%d]=%d ' "$index" "${map[$index]}"; done))"
  printf '%s' "$body"
)

if [[ ${1:-} == --print ]]; then
  printf '%s\n' "$script"
  exit 0
fi

if [[ ! -f .demo/tokens.env ]]; then
  echo "walkthrough: no demo has run in this checkout (.demo/tokens.env is missing); start one with npm start" >&2
  exit 1
fi
api=$(sed -n 's/^API=//p' .demo/tokens.env)
if ! curl -sf -o /dev/null --max-time 5 "$api/health"; then
  echo "walkthrough: the demo of .demo/ does not answer at $api/health; start it with npm start (and wait for \"worker started\")" >&2
  exit 1
fi

echo "walkthrough: running the README's walk-throughs against $api"
bash -c "$script"
echo
echo "walkthrough: every command of the README's walk-throughs succeeded"
