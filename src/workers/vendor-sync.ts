import { Job, UnrecoverableError } from 'bullmq';
import { db, Transaction } from '../db/knex';
import {
  clockCandidates, DashboardRow, driftedBookings, lockVendorTables, PromoRow, replaceVendorRows, ShownBooking, shownBookings, SyncScope, vendorsOfBookings,
} from '../db/vendor-tables';
import { hasStarted, bookingDay, datesThatAreTodaySomewhere, VendorCalendar } from '../domain/slot-availability';
import { enqueueBookingSync, RepairVendorData, VendorSyncData, VendorSyncJobName } from '../jobs/vendor-sync';
import { logger } from '../logger';

// The vendor-sync processor (SPEC §8): each vendor's dashboard and promo rows, rewritten from what
// the bookings are now (src/db/vendor-tables.ts says which are shown), so a job run twice, late or
// out of order still leaves the truth; a row the truth does not show is deleted. The clock job
// finds rows whose upcoming/current/completed moved on and queues their sync; the audit finds
// rows a sync that failed for good left out of line and queues theirs.

interface Timed extends VendorCalendar {
  status: string;
  book_date: string;
  start_time: string;
  end_time: string;
}

/** `upcoming`, `current` or `completed` by the cafe's clock for a confirmed booking; else its status. */
export function dashboardStatus(booking: Timed, now: Date): string {
  if (booking.status !== 'confirmed') return booking.status;
  const day = bookingDay(booking, booking.book_date, now);
  if (!hasStarted(day, booking.start_time)) return 'upcoming';
  const ended = day.relation === 'past' || (booking.end_time !== '24:00:00' && booking.end_time <= day.localTime);
  return ended ? 'completed' : 'current';
}

function dashboardRow(b: ShownBooking, now: Date): DashboardRow {
  return {
    vendor_id: b.vendor_id, book_id: b.id, user_id: b.user_id, username: b.username, game_id: b.game_id, game_name: b.game_name,
    console_id: null, date: b.book_date, start_time: b.start_time, end_time: b.end_time, book_status: dashboardStatus(b, now),
    amount: b.paid_paise ?? b.price_paise,
  };
}

function promoRow(b: ShownBooking & { promo_code: string; transaction_id: number }): PromoRow {
  return {
    vendor_id: b.vendor_id, booking_id: b.id, transaction_id: b.transaction_id, promo_code: b.promo_code,
    discount_applied: b.price_paise - (b.paid_paise ?? b.price_paise), actual_price: b.price_paise,
  };
}

/** One transaction: lock the vendors' rows, read the truth, make the scope's rows say it. */
async function syncScope(scopeOf: (trx: Transaction) => Promise<SyncScope>, now: Date): Promise<{ upserted: number; deleted: number }> {
  return db.transaction(async (trx) => {
    const scope = await scopeOf(trx);
    if (scope.vendorIds.length === 0) return { upserted: 0, deleted: 0 };
    await lockVendorTables(trx, scope.vendorIds);
    const shown = await shownBookings(trx, scope);
    const promoted = shown.filter((b): b is ShownBooking & { promo_code: string; transaction_id: number } => !!b.promo_code && b.transaction_id !== null);
    return replaceVendorRows(trx, scope, shown.map((b) => dashboardRow(b, now)), promoted.map(promoRow));
  });
}

export function syncVendorBookings(bookingIds: number[], now: Date = new Date()) {
  return syncScope(async (trx) => ({ vendorIds: await vendorsOfBookings(trx, bookingIds), bookingIds }), now);
}

/** Rebuilds one vendor's rows from the truth: every shown booking upserted, every other row deleted. */
export function repairVendor(vendorId: number, now: Date = new Date()) {
  return syncScope(async () => ({ vendorIds: [vendorId] }), now);
}

/** The clock job (sweeper schedule `vendor-clock`): queues a sync of the rows whose status by the cafe's clock moved on. */
export async function resyncByClock(now: Date = new Date()): Promise<number> {
  const latestToday = datesThatAreTodaySomewhere(now).sort().at(-1)!;
  const due = (await clockCandidates(latestToday)).filter((row) => dashboardStatus({ ...row, status: 'confirmed', book_date: row.date }, now) !== row.book_status);
  if (due.length) {
    await enqueueBookingSync(due.map((row) => row.book_id));
    logger.info({ rows: due.length }, 'queued sync of dashboard rows the clock moved on');
  }
  return due.length;
}

/** Booking ids per queued sync of the audit. */
const AUDIT_CHUNK = 500;

/**
 * The audit (sweeper schedule `vendor-audit`): queues a sync of the bookings changed lately whose
 * rows look out of line, so a change whose every sync attempt failed still reaches its cafe.
 */
export async function resyncDrifted(): Promise<number> {
  const due = await driftedBookings();
  for (let i = 0; i < due.length; i += AUDIT_CHUNK) await enqueueBookingSync(due.slice(i, i + AUDIT_CHUNK));
  if (due.length) logger.warn({ bookings: due.length }, 'queued sync of bookings whose vendor rows drifted');
  return due.length;
}

export async function processVendorSyncJob(job: Job): Promise<{ upserted: number; deleted: number }> {
  switch (job.name as VendorSyncJobName) {
    case 'sync-bookings': return syncVendorBookings((job.data as VendorSyncData).bookingIds);
    case 'repair-vendor': return repairVendor((job.data as RepairVendorData).vendorId);
    default: throw new UnrecoverableError(`unknown vendor-sync job ${job.name}`);
  }
}
