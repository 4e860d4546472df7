// Calendar and clock arithmetic in a vendor's time zone. No I/O.

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** 'YYYY-MM-DD' or 'YYYYMMDD' → 'YYYY-MM-DD'; null for anything else, including 2025-13-45. */
export function parseCalendarDate(input: string): string | null {
  const match = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(input);
  if (!match) return null;
  const [, y, m, d] = match;
  if (input.length === 9) return null; // one dash only: '2025-0101'
  const year = Number(y);
  const month = Number(m);
  const day = Number(d);
  if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  return `${y}-${m}-${d}`;
}

export function weekdayOf(date: string): Weekday {
  const [y, m, d] = date.split('-').map(Number);
  return WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
}

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export interface LocalNow {
  date: string; // YYYY-MM-DD
  time: string; // HH:MM:SS
  weekday: Weekday;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock date and time in `zone` at instant `now`. */
export function localNow(zone: string, now: Date = new Date()): LocalNow {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone, hourCycle: 'h23',
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(zone, formatter);
  }
  const parts = Object.fromEntries(formatter.formatToParts(now).map((p) => [p.type, p.value]));
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  return { date, time: `${parts.hour}:${parts.minute}:${parts.second}`, weekday: weekdayOf(date) };
}

/** The instant at which wall-clock `date` `time` happens in `zone`. */
export function zonedInstant(zone: string, date: string, time: string): Date {
  const [y, mo, d] = date.split('-').map(Number);
  const [h, mi, s = 0] = time.split(':').map(Number);
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  // Two passes settle the offset even across a DST change.
  let guess = asUtc;
  for (let i = 0; i < 2; i++) {
    const local = localNow(zone, new Date(guess));
    const [ly, lmo, ld] = local.date.split('-').map(Number);
    const [lh, lmi, ls] = local.time.split(':').map(Number);
    guess += asUtc - Date.UTC(ly, lmo - 1, ld, lh, lmi, ls);
  }
  return new Date(guess);
}

/** 'HH:MM' or 'HH:MM:SS' → seconds since midnight; null when malformed. */
export function parseClockTime(input: string): number | null {
  const match = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/.exec(input);
  if (!match) return null;
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3] ?? 0);
}

/** The end of a window: a clock time, or `24:00` (midnight at the end of the day, 86400). */
export function parseEndTime(input: string): number | null {
  return /^24:00(?::00)?$/.test(input) ? 86_400 : parseClockTime(input);
}

export function formatClockTime(seconds: number, withSeconds = true): string {
  const hh = String(Math.floor(seconds / 3600)).padStart(2, '0');
  const mm = String(Math.floor((seconds % 3600) / 60)).padStart(2, '0');
  const ss = String(seconds % 60).padStart(2, '0');
  return withSeconds ? `${hh}:${mm}:${ss}` : `${hh}:${mm}`;
}

/** The calendar date `days` after `date` (YYYY-MM-DD; negative goes back). */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}
