import { localNow, weekdayOf } from './dates';

// Which daily slots a customer can still book, judged on the vendor's own calendar and clock
// (SPEC §3: "today", "now", "past slot" and "shop open" are the vendor's). No I/O.

export interface VendorCalendar {
  timezone: string;
  opening_days: string[];
}

export type DayRelation = 'past' | 'today' | 'future';

export interface BookingDay {
  date: string; // YYYY-MM-DD, a calendar day in the vendor's zone
  open: boolean;
  relation: DayRelation;
  /** Days from the vendor's today to `date` (negative for the past). */
  daysAhead: number;
  localTime: string; // HH:MM:SS now in the vendor's zone; only meaningful when relation is 'today'
}

/** How the vendor's calendar sees `date` at instant `now`. */
export function bookingDay(vendor: VendorCalendar, date: string, now: Date = new Date()): BookingDay {
  const local = localNow(vendor.timezone, now);
  // YYYY-MM-DD strings order like the days they name.
  const relation: DayRelation = date < local.date ? 'past' : date === local.date ? 'today' : 'future';
  const daysAhead = Math.round((Date.parse(`${date}T00:00:00Z`) - Date.parse(`${local.date}T00:00:00Z`)) / 86_400_000);
  return { date, open: vendor.opening_days.includes(weekdayOf(date)), relation, daysAhead, localTime: local.time };
}

/** The vendor's "today", as a booking day. */
export function vendorToday(vendor: VendorCalendar, now: Date = new Date()): BookingDay {
  return bookingDay(vendor, localNow(vendor.timezone, now).date, now);
}

export function isShopOpen(vendor: VendorCalendar, now: Date = new Date()): boolean {
  return vendorToday(vendor, now).open;
}

/** A slot that started at this very second has started: only later starts are still ahead. */
export function hasStarted(day: BookingDay, startTime: string): boolean {
  if (day.relation === 'past') return true;
  if (day.relation === 'future') return false;
  return startTime <= day.localTime; // HH:MM:SS strings order like the times they name
}

/** A slot that may be held on `day`, units permitting: open, not started, within the horizon (MAX_DAYS_AHEAD). */
export function canHold(day: BookingDay, startTime: string, maxDaysAhead: number): boolean {
  return day.open && !hasStarted(day, startTime) && day.daysAhead <= maxDaysAhead;
}

export function isSlotBookable(day: BookingDay, startTime: string, availableUnits: number, maxDaysAhead: number): boolean {
  return availableUnits > 0 && canHold(day, startTime, maxDaysAhead);
}

export const UPCOMING_SLOT_LIMIT = 6;

/** The next slots of `day` that have not started, earliest first; none on a closed day. */
export function upcomingSlots<T extends { start_time: string }>(day: BookingDay, slots: T[], limit = UPCOMING_SLOT_LIMIT): T[] {
  if (!day.open) return [];
  return slots
    .filter((slot) => !hasStarted(day, slot.start_time))
    .sort((a, b) => a.start_time.localeCompare(b.start_time))
    .slice(0, limit);
}

/**
 * Every calendar date that is "today" somewhere on Earth at `now` (UTC−12 … UTC+14 spans at most
 * the UTC day before and after). Lets one query fetch today's inventory before it knows the zone.
 */
export function datesThatAreTodaySomewhere(now: Date = new Date()): string[] {
  const day = 24 * 3600 * 1000;
  return [-1, 0, 1].map((offset) => new Date(now.getTime() + offset * day).toISOString().slice(0, 10));
}

/** Minutes from `now` to a slot's start on `date`, on the vendor's wall clock (negative once it started). */
export function minutesUntilStart(vendor: VendorCalendar, date: string, startTime: string, now: Date = new Date()): number {
  const local = localNow(vendor.timezone, now);
  return (Date.parse(`${date}T${startTime}Z`) - Date.parse(`${local.date}T${local.time}Z`)) / 60_000;
}
