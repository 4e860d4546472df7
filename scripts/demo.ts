// `npm start`: the whole service on one machine from a fresh clone. Writes .env with random
// development secrets if there is none, finds or starts PostgreSQL and Redis (scripts/dev-services.ts),
// starts the bundled fake Razorpay unless a real key is configured, runs the Procfile's release
// step, loads demo data, prints tokens and curl commands, then runs every other Procfile process
// through foreman (`nf start`) with prefixed logs. Ctrl-C or SIGTERM stops the processes first,
// then the fake Razorpay, Redis and PostgreSQL it started.
//
// Each demo has a state directory of its own (scripts/demo-state.ts: .demo/ on port 3000,
// .demo/<PORT>/ on others), a database and a Redis prefix of its own; a second `npm start` on the
// same state or ports says which demo runs there and exits, and never stops or replaces it.
import fs from 'fs';
import path from 'path';
import { randomBytes } from 'crypto';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import {
  commandOf, demoDatabaseUrl, DevService, DevServiceError, findOrStartPostgres, findOrStartRedis, freePort, portIsFree, RazorpayKeys, signalAndWait,
  startFakeRazorpayServer,
} from './dev-services';
import { DEFAULT_PORT, DemoState, demoState, describeDemo, lockDemoState, otherRunningDemos, RunningDemo, updateDemoLock } from './demo-state';

const ROOT = path.join(__dirname, '..');
const ENV_FILE = path.join(ROOT, '.env');
/** This demo's files (scripts/demo-state.ts): .demo/ on the default port, .demo/<PORT>/ on others. */
let state: DemoState;

function say(message: string): void {
  process.stdout.write(`demo      | ${message}\n`);
}

class DemoError extends Error {}

// ---------------------------------------------------------------- .env

/** Writes .env from .env.example with random secrets; returns false when one already exists. */
function ensureEnvFile(): boolean {
  if (fs.existsSync(ENV_FILE)) return false;
  const secrets: Record<string, string> = {
    JWT_SECRET: randomBytes(32).toString('hex'),
    ADMIN_PASSWORD: randomBytes(9).toString('base64url'),
  };
  const written = new Set<string>();
  const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8').split('\n');
  // The example's opening comment speaks about the example; the header below replaces it.
  const firstSetting = example.findIndex((line) => !line.startsWith('#'));
  const lines = example.slice(Math.max(0, firstSetting)).map((line) => {
    const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) return line;
    const [, , name, value] = match;
    if (name in secrets) {
      written.add(name);
      return `${name}=${secrets[name]}`;
    }
    if (name === 'DATABASE_URL' || name === 'REDIS_URL') return `# ${name}=${value}`;
    return line;
  });
  const missing = Object.keys(secrets).filter((name) => !written.has(name)).map((name) => `${name}=${secrets[name]}`);
  const header = [
    `# Written by \`npm start\` on ${new Date().toISOString().slice(0, 10)}: random secrets for local development only.`,
    '# DATABASE_URL and REDIS_URL are left unset: npm start finds a local server or starts its own',
    '# (see .demo/runtime.env for what it chose). Set them here to use particular servers.',
    '# RAZORPAY_KEY_ID is left unset too: npm start then runs the bundled fake Razorpay with a key pair of',
    '# its own. Set the three RAZORPAY_ keys here (e.g. Razorpay test mode, rzp_test_…) to use Razorpay itself.',
    '',
  ];
  fs.writeFileSync(ENV_FILE, [...header, ...lines, ...missing].join('\n').replace(/\n*$/, '\n'), { mode: 0o600 });
  return true;
}

function writeEnvFile(file: string, values: Record<string, string>, comment: string): void {
  const body = Object.entries(values).map(([name, value]) => `${name}=${value}`).join('\n');
  fs.writeFileSync(file, `# ${comment}\n${body}\n`, { mode: 0o600 });
}

// ---------------------------------------------------------------- Razorpay

/** The key id that `npm start` used to copy into .env from the example: a placeholder, never a real key. */
const PLACEHOLDER_KEY_ID = 'rzp_test_local';
const FAKE_KEY_ID = 'rzp_test_demofake';
const DEFAULT_FAKE_PORT = 4010;
const FAKE_RAZORPAY_URL = (port: number) => `http://127.0.0.1:${port}`;
const RAZORPAY_VARIABLES = ['RAZORPAY_KEY_ID', 'RAZORPAY_KEY_SECRET', 'RAZORPAY_WEBHOOK_SECRET', 'RAZORPAY_API_BASE'];

type RazorpayChoice =
  | { fake: true; port: number; configured: boolean; keys: RazorpayKeys; ignored: string[] }
  | { fake: false; keyId: string; apiBase: string };

/**
 * Razorpay itself when the user configured a key (RAZORPAY_KEY_ID in the environment or .env), with
 * RAZORPAY_API_BASE left as it is; otherwise the bundled fake with a fresh key pair and webhook
 * secret, which every process (and `npm run pay`, through .demo/runtime.env) is given.
 */
function chooseRazorpay(): RazorpayChoice {
  const keyId = process.env.RAZORPAY_KEY_ID;
  if (keyId && keyId !== PLACEHOLDER_KEY_ID) {
    const missing = ['RAZORPAY_KEY_SECRET', 'RAZORPAY_WEBHOOK_SECRET'].filter((name) => !process.env[name]);
    if (missing.length > 0) {
      throw new DemoError(`RAZORPAY_KEY_ID is set (${keyId}), so the service would call Razorpay itself, but ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not.\n`
        + '  Set them in .env (Razorpay Dashboard: Account & Settings → API Keys, and the secret of your webhook),\n'
        + '  or remove RAZORPAY_KEY_ID to use the bundled fake Razorpay.');
    }
    return { fake: false, keyId, apiBase: process.env.RAZORPAY_API_BASE || 'https://api.razorpay.com' };
  }
  const port = process.env.RAZORPAY_FAKE_PORT || String(DEFAULT_FAKE_PORT);
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new DemoError(`RAZORPAY_FAKE_PORT must be a port number (got "${port}")`);
  return {
    fake: true,
    port: Number(port),
    configured: Boolean(process.env.RAZORPAY_FAKE_PORT),
    keys: { keyId: FAKE_KEY_ID, keySecret: randomBytes(16).toString('hex'), webhookSecret: randomBytes(16).toString('hex') },
    ignored: RAZORPAY_VARIABLES.filter((name) => process.env[name]),
  };
}

// ---------------------------------------------------------------- Procfile

function readProcfile(): Map<string, string> {
  const processes = new Map<string, string>();
  for (const line of fs.readFileSync(path.join(ROOT, 'Procfile'), 'utf8').split('\n')) {
    const match = /^([A-Za-z0-9_-]+):\s*(.+)$/.exec(line.trim());
    if (match) processes.set(match[1], match[2]);
  }
  return processes;
}

function runRelease(command: string): void {
  say(`release: ${command}`);
  const result = spawnSync('/bin/sh', ['-c', command], { cwd: ROOT, stdio: 'inherit', env: process.env });
  if (result.status !== 0) throw new DemoError(`the release step (${command}) failed`);
}

// ---------------------------------------------------------------- demo data and the banner

function nextDateIn(zone: string, localNow: (zone: string) => { date: string }): string {
  const [y, m, d] = localNow(zone).date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10).replace(/-/g, '');
}

/** The demo whose files are in .demo/ itself: the one `npm run pay` and the README's commands serve. */
function usesDefaultState(): boolean {
  return state.dir === path.join(ROOT, '.demo');
}

function razorpayLines(razorpay: RazorpayChoice, api: string, example: { userId: number; gameId: number; slotId: number | null; date: string }): { service: string; pay: string[] } {
  const json = `-H 'Content-Type: application/json'`;
  const gamer = `-H "Authorization: Bearer $GAMER_TOKEN"`;
  if (!razorpay.fake) {
    return {
      service: `  Razorpay     ${razorpay.apiBase}   (key ${razorpay.keyId}; it sends webhooks to <this API's public URL>/webhooks/razorpay)`,
      pay: [
        'Pay (README "Payments"): POST /create_order, pay the order in Razorpay\'s checkout with your key, then send',
        'the checkout\'s response to POST /capture_payment or POST /bookings/confirm; or pay from the wallet (payment_mode "wallet").',
      ],
    };
  }
  const slot = example.slotId ?? '<slot id>';
  return {
    service: `  Razorpay     ${FAKE_RAZORPAY_URL(razorpay.port)}   (the bundled fake, stopping with npm start: key ${razorpay.keys.keyId}, no real money)`,
    pay: [
      'Pay for a hold with the fake Razorpay (with the tokens above exported; needs jq; README "Payments" has more, and the wallet):',
      `  BOOKING=$(curl -s -X POST ${api}/bookings ${gamer} ${json} -d '{"slot_id":${slot},"user_id":${example.userId},"game_id":${example.gameId},"book_date":"${example.date}"}' | jq '.bookings[0].booking_id')`,
      `  ORDER=$(curl -s -X POST ${api}/create_order ${gamer} ${json} -d "{\\"currency\\":\\"INR\\",\\"receipt\\":\\"demo-$BOOKING\\",\\"booking_ids\\":[$BOOKING]}" | jq -r .id)`,
      ...(usesDefaultState()
        ? [
          '  # npm run -s pay pays it as the checkout would and prints the checkout response; /capture_payment then confirms the booking',
          `  npm run -s pay -- $ORDER | curl -s -X POST ${api}/capture_payment ${gamer} ${json} -d @-`,
        ]
        : [
          // scripts/pay.ts serves the demo of .demo/runtime.env; the fake's own control route pays for any demo.
          '  # the fake pays it as the checkout would (npm run pay serves only the demo of .demo/); /capture_payment then confirms the booking',
          `  curl -s -X POST ${FAKE_RAZORPAY_URL(razorpay.port)}/_fake/orders/$ORDER/pay ${json} -d '{"capture":true}' | curl -s -X POST ${api}/capture_payment ${gamer} ${json} -d @-`,
        ]),
      `  curl -s ${api}/bookings/$BOOKING ${gamer}`,
    ],
  };
}

async function seedAndPrintGuide(services: { postgres: DevService; redis: DevService }, razorpay: RazorpayChoice): Promise<void> {
  // Imported only now: src/config.ts reads the environment once, when first loaded.
  const { seedDemoData } = await import('./seed');
  const { signToken } = await import('../src/http/auth');
  const { localNow } = await import('../src/domain/dates');
  const { db } = await import('../src/db/knex');
  try {
    const data = await seedDemoData();
    const [gamer] = data.gamers;
    const tokens: Array<[string, string, string]> = [
      ['ADMIN_TOKEN', `admin (user ${data.admin.id})`, signToken({ sub: data.admin.id, role: 'admin' })],
      ['GAMER_TOKEN', `gamer ${gamer.name} (user ${gamer.id})`, signToken({ sub: gamer.id, role: 'user' })],
      ...data.cafes.map((cafe, index): [string, string, string] => [
        `VENDOR${index + 1}_TOKEN`,
        `staff of vendor ${cafe.vendor.id} ${cafe.vendor.cafe_name} (user ${cafe.staff.id})`,
        signToken({ sub: cafe.staff.id, role: 'vendor', vendor_id: cafe.vendor.id }),
      ]),
    ];
    const port = process.env.PORT;
    const api = `http://localhost:${port}`;
    const [cafe] = data.cafes;
    const [game] = cafe.games;
    const date = nextDateIn(cafe.vendor.timezone, localNow);
    // Ids for the README's commands, which name no fixed ids.
    const ids = { GAMER_ID: String(gamer.id), VENDOR_ID: String(cafe.vendor.id), GAME_ID: String(game.id) };
    const tokensFile = path.relative(ROOT, state.tokensFile);
    writeEnvFile(state.tokensFile, { API: api, ...Object.fromEntries(tokens.map(([name, , token]) => [name, token])), ...ids },
      `Development tokens from npm start (valid 12h), its API, and the ids of the gamer and of the first cafe and game: \`set -a; . ${tokensFile}; set +a\``);
    const lastSlot: { id: number } | undefined = await db('slots').where('game_id', game.id).orderBy('start_time', 'desc').first('id');
    const payment = razorpayLines(razorpay, api, { userId: gamer.id, gameId: game.id, slotId: lastSlot?.id ?? null, date });
    const out = [
      '',
      'HFG Booking Service is starting:',
      `  API          ${api}   (every route also under ${api}/api)`,
      `  Realtime     ws://localhost:${process.env.REALTIME_PORT}/socket.io`,
      `  Bull Board   ${api}/admin/queues   (user ${process.env.ADMIN_USER}, password ${process.env.ADMIN_PASSWORD}, from .env)`,
      `  PostgreSQL   ${services.postgres.url.replace(/:[^:@/]+@/, ':***@')}   (${services.postgres.origin})`,
      `  Redis        ${services.redis.url}   (${services.redis.origin})`,
      payment.service,
      '',
      'Demo data (created once, kept across runs):',
      ...data.cafes.map((c) => `  vendor ${c.vendor.id} ${c.vendor.cafe_name}: ${c.games.map((g) => `game ${g.id} ${g.game_name}`).join(', ')}`),
      '',
      `Development tokens (12h; also in ${tokensFile}, and \`npm run -s token -- --help\` mints more):`,
      ...tokens.map(([name, who, token]) => `  # ${who}\n  export ${name}=${token}`),
      '',
      'Try:',
      `  curl -s ${api}/health`,
      `  curl -s ${api}/games/vendor/${cafe.vendor.id}`,
      `  curl -s ${api}/getSlots/vendor/${cafe.vendor.id}/game/${game.id}/${date}`,
      `  curl -s -X POST ${api}/vendors -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d '{"cafe_name":"My Cafe"}'`,
      `  curl -s -u ${process.env.ADMIN_USER}:${process.env.ADMIN_PASSWORD} ${api}/admin/queues/api/queues | head -c 300`,
      '',
      ...payment.pay,
      '',
      'Ctrl-C stops everything.',
      '',
    ];
    process.stdout.write(out.join('\n'));
  } finally {
    await db.destroy();
  }
}

// ---------------------------------------------------------------- run and stop

const started: DevService[] = [];
let foreman: ChildProcess | null = null;
let stopping = false;

async function stopServices(): Promise<void> {
  for (const service of started.splice(0).reverse()) {
    await service.stop().catch((error) => say(`stopping ${service.origin} failed: ${error.message}`));
  }
}

function foremanRunning(): boolean {
  return foreman !== null && foreman.exitCode === null && foreman.signalCode === null;
}

/**
 * Ctrl-C, SIGTERM, SIGHUP. While the Procfile processes run, stop them; foreman's exit handler
 * then stops the services. During start-up, main() notices at its next step (a second signal
 * does not wait for that).
 */
function requestStop(signal: NodeJS.Signals): void {
  if (stopping) {
    if (!foremanRunning()) void stopServices().then(() => process.exit(130));
    return;
  }
  stopping = true;
  if (!foremanRunning()) {
    say(`${signal}: stopping after the current start-up step`);
    return;
  }
  say(`${signal}: stopping the processes`);
  // Foreman runs in its own process group (see startProcesses), so this reaches every process it
  // started even through the `sh -c` it wraps them in.
  process.kill(-foreman!.pid!, 'SIGINT');
  setTimeout(() => {
    if (foremanRunning()) {
      say('processes did not stop within 20 s; killing them');
      process.kill(-foreman!.pid!, 'SIGKILL');
    }
  }, 20_000).unref();
}

/** Between start-up steps: if a stop was requested, undo what was started and leave. */
async function continueStarting(): Promise<void> {
  if (!stopping) return;
  await stopServices();
  say('stopped');
  process.exit(0);
}

/** Processes a previous run left behind when it was killed outright (SIGKILL, a crash). */
async function stopLeftoverProcesses(): Promise<void> {
  if (!fs.existsSync(state.foremanPidFile)) return;
  const pid = Number(fs.readFileSync(state.foremanPidFile, 'utf8'));
  if (commandOf(pid).includes('nf.js')) {
    say(`stopping the processes a previous run left running (foreman pid ${pid})`);
    try {
      process.kill(-pid, 'SIGINT');
    } catch {
      // already gone
    }
    await signalAndWait(pid, 'SIGINT');
  }
  fs.rmSync(state.foremanPidFile, { force: true });
}

function startProcesses(procfile: Map<string, string>, runtime: Record<string, string>): void {
  const names = [...procfile.keys()].filter((name) => name !== 'release');
  const formation = names.map((name) => `${name}=1`).join(',');
  say(`nf start ${formation}`);
  foreman = spawn(
    process.execPath,
    [require.resolve('foreman/nf.js'), '--procfile', 'Procfile', '--env', path.relative(ROOT, state.runtimeEnvFile), 'start', formation],
    // A process group of its own, so that stopping is always done the same way (requestStop), and
    // a Ctrl-C does not reach the processes before the demo decides the order.
    { cwd: ROOT, stdio: 'inherit', detached: true, env: { ...process.env, ...runtime } },
  );
  fs.writeFileSync(state.foremanPidFile, String(foreman.pid));
  foreman.once('exit', (code, signal) => {
    fs.rmSync(state.foremanPidFile, { force: true });
    const expected = stopping;
    stopping = true;
    if (!expected) say(`a process stopped (foreman exited with ${signal ?? code}); stopping everything`);
    void stopServices().then(() => {
      say('stopped');
      process.exit(expected ? 0 : 1);
    });
  });
}

function portSetting(name: string, fallback: number): number {
  const value = process.env[name] || String(fallback);
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new DemoError(`${name} must be a port number (got "${value}")`);
  process.env[name] = value;
  return Number(value);
}

/** The ports another running demo of this checkout holds, with that demo. */
function claimedPorts(others: RunningDemo[]): Map<number, RunningDemo> {
  const claimed = new Map<number, RunningDemo>();
  for (const demo of others) {
    for (const name of ['PORT', 'REALTIME_PORT', 'RAZORPAY_FAKE_PORT']) if (demo.claims[name]) claimed.set(Number(demo.claims[name]), demo);
  }
  return claimed;
}

/** A PORT / REALTIME_PORT pair that is free now, to suggest for a second demo. */
async function freePortPair(claimed: Map<number, RunningDemo>): Promise<string> {
  for (let port = 4000; port < 5000; port += 100) {
    if (!claimed.has(port) && !claimed.has(port + 1) && (await portIsFree(port)) && (await portIsFree(port + 1))) {
      return `PORT=${port} REALTIME_PORT=${port + 1}`;
    }
  }
  return 'PORT=<port> REALTIME_PORT=<another port>';
}

function alreadyRunning(demo: RunningDemo, why: string, secondDemo: string): DemoError {
  return new DemoError(`a demo is already running ${why} (${describeDemo(ROOT, demo)}).\n`
    + `  Use that one (its tokens: ${path.relative(ROOT, path.join(demo.dir, 'tokens.env'))}), stop it first (Ctrl-C in its terminal, or kill ${demo.pid}),\n`
    + `  or start a second demo beside it on other ports: ${secondDemo} npm start`);
}

/**
 * Takes this demo's state and makes sure nothing it needs belongs to another demo (or program):
 * a second `npm start` says so and leaves, and never stops or replaces the first.
 */
async function claimPortsAndState(): Promise<void> {
  const port = portSetting('PORT', DEFAULT_PORT);
  const realtimePort = portSetting('REALTIME_PORT', port + 1);
  // Each demo its own Redis keys (and socket.io channel), even when they share one Redis.
  process.env.REDIS_KEY_PREFIX ||= `hfg-demo-${port}`;
  state = demoState(ROOT, port, process.env.DEMO_DIR);
  const others = otherRunningDemos(ROOT);
  const claimed = claimedPorts(others);
  const holder = lockDemoState(state, { PORT: String(port), REALTIME_PORT: String(realtimePort), REDIS_KEY_PREFIX: process.env.REDIS_KEY_PREFIX });
  if (holder) throw alreadyRunning(holder, `with this demo's state, ${path.relative(ROOT, state.dir)}`, await freePortPair(claimed));
  // Only now: the processes a demo killed outright left behind are this state's, and no running demo's.
  await stopLeftoverProcesses();

  for (const [name, value] of [['PORT', port], ['REALTIME_PORT', realtimePort]] as const) {
    const owner = claimed.get(value);
    if (owner) throw alreadyRunning(owner, `on port ${value} (${name})`, await freePortPair(claimed));
    if (!(await portIsFree(value))) {
      throw new DemoError(`port ${value} (${name}) is in use by another program; choose others, e.g. ${await freePortPair(claimed)} npm start`);
    }
  }
  const sharedPrefix = others.find((demo) => demo.claims.REDIS_KEY_PREFIX === process.env.REDIS_KEY_PREFIX);
  if (sharedPrefix) {
    throw new DemoError(`REDIS_KEY_PREFIX ${process.env.REDIS_KEY_PREFIX} is the one of the demo already running (${describeDemo(ROOT, sharedPrefix)}):\n`
      + '  two demos on one prefix would run each other\'s jobs. Leave REDIS_KEY_PREFIX unset (each demo then takes hfg-demo-<PORT>) or choose another.');
  }
}

/** RAZORPAY_FAKE_PORT as set, else 4010 when it is free, else any free port. */
async function claimFakePort(razorpay: RazorpayChoice & { fake: true }): Promise<void> {
  const owner = claimedPorts(otherRunningDemos(ROOT)).get(razorpay.port);
  if (!owner && (await portIsFree(razorpay.port))) return;
  const user = owner ? `the demo already running (${describeDemo(ROOT, owner)})` : 'another program';
  if (razorpay.configured) {
    throw new DemoError(`port ${razorpay.port} (RAZORPAY_FAKE_PORT, the fake Razorpay) is in use by ${user}; choose another, e.g. RAZORPAY_FAKE_PORT=4011 npm start,\n`
      + '  or leave RAZORPAY_FAKE_PORT unset and a free port is chosen');
  }
  const chosen = await freePort();
  say(`port ${razorpay.port} of the fake Razorpay is in use by ${user}; this demo's fake listens on ${chosen} (RAZORPAY_FAKE_PORT chooses)`);
  razorpay.port = chosen;
}

/** Refuses a database another running demo uses: its reconciler would close this demo's orders. */
function claimDatabase(url: string): void {
  const owner = otherRunningDemos(ROOT).find((demo) => demo.claims.DATABASE_URL === url);
  if (owner) {
    throw new DemoError(`the database ${url.replace(/:[^:@/]+@/, ':***@')} is the one of the demo already running (${describeDemo(ROOT, owner)}).\n`
      + '  Give this demo another DATABASE_URL, or leave it unset (each demo then has a database of its own).');
  }
  updateDemoLock(state, { DATABASE_URL: url });
}

async function main(): Promise<void> {
  process.chdir(ROOT);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => requestStop(signal));

  if (ensureEnvFile()) say('wrote .env with random development secrets');
  // Values already in the environment win over .env, as for every process of the service.
  process.loadEnvFile(ENV_FILE);
  await claimPortsAndState();
  const razorpay = chooseRazorpay();
  if (razorpay.fake) {
    await claimFakePort(razorpay);
    updateDemoLock(state, { RAZORPAY_FAKE_PORT: String(razorpay.port) });
    if (razorpay.ignored.length > 0) {
      const why = process.env.RAZORPAY_KEY_ID ? `RAZORPAY_KEY_ID is ${PLACEHOLDER_KEY_ID}, the example's old placeholder` : 'RAZORPAY_KEY_ID is not set';
      say(`${why}: using the bundled fake Razorpay, so ${razorpay.ignored.join(', ')} from .env or the environment ${razorpay.ignored.length === 1 ? 'does' : 'do'} not apply`);
    }
  }

  const port = Number(process.env.PORT);
  const postgres = await findOrStartPostgres(process.env.DATABASE_URL, path.join(state.dir, 'pg'), say, demoDatabaseUrl(port, DEFAULT_PORT));
  started.push(postgres);
  claimDatabase(postgres.url);
  await continueStarting();
  const redis = await findOrStartRedis(process.env.REDIS_URL, path.join(state.dir, 'redis'), say);
  started.push(redis);
  await continueStarting();

  const runtime: Record<string, string> = {
    DATABASE_URL: postgres.url, REDIS_URL: redis.url, REDIS_KEY_PREFIX: process.env.REDIS_KEY_PREFIX!, PORT: process.env.PORT!, REALTIME_PORT: process.env.REALTIME_PORT!,
  };
  const runtimeFile = path.relative(ROOT, state.runtimeEnvFile);
  let comment = `What this \`npm start\` chose. While those servers run: npx nf start -e .env,${runtimeFile} web=1,worker=1,realtime=1`;
  if (razorpay.fake) {
    const fake = await startFakeRazorpayServer(razorpay.port, razorpay.keys);
    started.push(fake);
    say(`fake Razorpay listening on ${fake.url}`);
    await continueStarting();
    // `npm run pay` reads the fake's address from here; the processes get the key pair it checks.
    Object.assign(runtime, {
      RAZORPAY_KEY_ID: razorpay.keys.keyId, RAZORPAY_KEY_SECRET: razorpay.keys.keySecret, RAZORPAY_WEBHOOK_SECRET: razorpay.keys.webhookSecret,
      RAZORPAY_API_BASE: fake.url, RAZORPAY_FAKE_PORT: String(razorpay.port),
    });
    comment += `\n# The fake Razorpay runs inside npm start; without it: set -a; . ${runtimeFile}; set +a; npx tsx scripts/fake-razorpay.ts`;
  }
  Object.assign(process.env, runtime);
  writeEnvFile(state.runtimeEnvFile, runtime, comment);

  const procfile = readProcfile();
  const release = procfile.get('release');
  if (release) runRelease(release);
  await continueStarting();
  await seedAndPrintGuide({ postgres, redis }, razorpay);
  await continueStarting();
  startProcesses(procfile, runtime);
}

main().catch(async (error) => {
  const known = error instanceof DemoError || error instanceof DevServiceError;
  process.stderr.write(`\nnpm start failed: ${known ? error.message : error?.stack ?? error}\n`);
  await stopServices();
  process.exit(1);
});
