// Daily slot windows of a game: building them from opening hours and finding overlaps. No I/O.
// Windows never cross midnight (the schema requires end_time > start_time on the same day); the
// last may end at it, `24:00:00` (SPEC §5.2).

import { formatClockTime, parseClockTime, parseEndTime } from './dates';

export interface SlotWindow {
  start_time: string; // HH:MM:SS
  end_time: string; // HH:MM:SS
}

export interface OpeningHours {
  open: string;
  close: string;
  minutes: number;
}

export type SlotTimesResult = { ok: true; windows: SlotWindow[] } | { ok: false; reason: string };

interface Seconds {
  start: number;
  end: number;
}

function toSeconds(window: { start_time: string; end_time: string }): Seconds | null {
  const start = parseClockTime(window.start_time);
  const end = parseEndTime(window.end_time);
  return start === null || end === null ? null : { start, end };
}

function toWindow({ start, end }: Seconds): SlotWindow {
  return { start_time: formatClockTime(start), end_time: formatClockTime(end) };
}

/** One window in canonical HH:MM:SS form; refused when malformed or not ending after it starts. */
export function normalizeWindow(window: { start_time: string; end_time: string }): SlotTimesResult {
  const seconds = toSeconds(window);
  if (!seconds) return { ok: false, reason: 'start_time and end_time must be HH:MM or HH:MM:SS (end_time may be 24:00)' };
  if (seconds.end <= seconds.start) {
    return { ok: false, reason: `end_time ${window.end_time} must be after start_time ${window.start_time}` };
  }
  return { ok: true, windows: [toWindow(seconds)] };
}

/** Consecutive windows of `minutes` from open to close; a last window that would pass close is dropped. */
export function windowsFromOpeningHours(hours: OpeningHours): SlotTimesResult {
  const open = parseClockTime(hours.open);
  const close = parseEndTime(hours.close);
  if (open === null || close === null) return { ok: false, reason: 'open and close must be HH:MM or HH:MM:SS (close may be 24:00)' };
  if (!Number.isInteger(hours.minutes) || hours.minutes <= 0) return { ok: false, reason: 'minutes must be a positive integer' };
  if (close <= open) return { ok: false, reason: `close ${hours.close} must be after open ${hours.open}` };
  const length = hours.minutes * 60;
  const windows: SlotWindow[] = [];
  for (let start = open; start + length <= close; start += length) {
    windows.push(toWindow({ start, end: start + length }));
  }
  if (windows.length === 0) {
    return { ok: false, reason: `no ${hours.minutes}-minute slot fits between ${hours.open} and ${hours.close}` };
  }
  return { ok: true, windows };
}

/** Normalizes a list of windows, sorted by start time. */
export function normalizeWindows(windows: Array<{ start_time: string; end_time: string }>): SlotTimesResult {
  const normalized: SlotWindow[] = [];
  for (const window of windows) {
    const result = normalizeWindow(window);
    if (!result.ok) return result;
    normalized.push(result.windows[0]);
  }
  return { ok: true, windows: normalized.sort((a, b) => a.start_time.localeCompare(b.start_time)) };
}

/** Half-open intervals: 10:00–11:00 and 11:00–12:00 touch but do not overlap. */
export function windowsOverlap(a: { start_time: string; end_time: string }, b: { start_time: string; end_time: string }): boolean {
  const first = toSeconds(a);
  const second = toSeconds(b);
  if (!first || !second) throw new Error('windowsOverlap needs valid clock times');
  return first.start < second.end && second.start < first.end;
}

/** Every pair of windows in the list that overlap, as index pairs [i, j] with i < j. */
export function findOverlaps(windows: Array<{ start_time: string; end_time: string }>): Array<[number, number]> {
  const overlaps: Array<[number, number]> = [];
  for (let i = 0; i < windows.length; i++) {
    for (let j = i + 1; j < windows.length; j++) {
      if (windowsOverlap(windows[i], windows[j])) overlaps.push([i, j]);
    }
  }
  return overlaps;
}
