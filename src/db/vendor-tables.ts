import { Knex } from 'knex';
import { db, Transaction } from './knex';

// The vendor tables (SPEC §8): what the bookings truth says each cafe's dashboard and promo
// partitions hold, the vendor-sync writes that make them say it, and the cafe's reads of them.
// Only vendor-sync jobs write here (src/workers/vendor-sync.ts decides the rows).
//
// A booking is shown once it was paid for: confirmed, cancelled after a confirmation (it keeps its
// transaction), or refunded (a late payment whose slot was gone). A promo row is a shown booking
// whose confirmation redeemed a code.

export interface ShownBooking {
  id: number;
  vendor_id: number;
  user_id: number;
  username: string;
  game_id: number;
  game_name: string;
  book_date: string;
  start_time: string;
  end_time: string;
  status: 'confirmed' | 'cancelled' | 'refunded';
  price_paise: number;
  paid_paise: number | null;
  transaction_id: number | null;
  promo_code: string | null;
  timezone: string;
  opening_days: string[];
}

export interface DashboardRow {
  vendor_id: number;
  book_id: number;
  user_id: number;
  username: string;
  game_id: number;
  game_name: string;
  console_id: number | null;
  date: string;
  start_time: string;
  end_time: string;
  book_status: string;
  amount: number;
}

export interface PromoRow {
  vendor_id: number;
  booking_id: number;
  transaction_id: number;
  promo_code: string;
  discount_applied: number;
  actual_price: number;
}

/** Which rows a sync rewrites: these bookings of these vendors, or (no booking ids) every row of the vendors. */
export interface SyncScope {
  vendorIds: number[];
  bookingIds?: number[];
}

/** Advisory lock class of the vendor tables: one lock per vendor (second key), taken by every sync of its rows. */
const VENDOR_TABLES_LOCK = 0x76656e64; // 'vend'

/**
 * Serialises the syncs of a vendor's rows. Lock, then read: a sync reads the truth after the
 * lock, so of two syncs of one booking the one that writes last read last, and a slow job can
 * never put back what a newer one replaced. Locks in vendor order; a lock wait is bounded
 * (lock_timeout), and a timed-out job is retried with backoff.
 */
export async function lockVendorTables(trx: Transaction, vendorIds: number[]): Promise<void> {
  for (const vendorId of [...new Set(vendorIds)].sort((a, b) => a - b)) {
    await trx.raw('SELECT pg_advisory_xact_lock(?, ?)', [VENDOR_TABLES_LOCK, vendorId]);
  }
}

export async function vendorsOfBookings(trx: Transaction, bookingIds: number[]): Promise<number[]> {
  const rows: Array<{ vendor_id: number }> = await trx('bookings').whereIn('id', bookingIds).distinct('vendor_id');
  return rows.map((row) => row.vendor_id);
}

/** The condition that a booking `b` is shown: the one definition, for the syncs and the audit. */
function whereShown(query: Knex.QueryBuilder): void {
  query.where('b.status', 'refunded')
    .orWhere((paid) => paid.whereIn('b.status', ['confirmed', 'cancelled']).whereNotNull('b.transaction_id'));
}

/** The shown bookings of the scope, as the truth says now. */
export function shownBookings(trx: Transaction, scope: SyncScope): Promise<ShownBooking[]> {
  const query = trx('bookings as b')
    .join('users as u', 'u.id', 'b.user_id')
    .join('games as g', 'g.id', 'b.game_id')
    .join('slots as s', 's.id', 'b.slot_id')
    .join('vendors as v', 'v.id', 'b.vendor_id')
    .leftJoin('transactions as t', 't.id', 'b.transaction_id')
    .leftJoin('promo_codes as p', 'p.id', 't.promo_code_id')
    .whereIn('b.vendor_id', scope.vendorIds)
    .where(whereShown)
    .orderBy('b.id')
    .select('b.id', 'b.vendor_id', 'b.user_id', 'u.name as username', 'b.game_id', 'g.game_name', 'b.book_date', 's.start_time', 's.end_time',
      'b.status', 'b.price_paise', 'b.paid_paise', 'b.transaction_id', 'p.code as promo_code', 'v.timezone', 'v.opening_days');
  return scope.bookingIds ? query.whereIn('b.id', scope.bookingIds) : query;
}

/** Rows per statement: 13 parameters a row stays well under PostgreSQL's 65535. */
const CHUNK = 1000;

function chunks<T>(rows: T[]): T[][] {
  return Array.from({ length: Math.ceil(rows.length / CHUNK) }, (_, i) => rows.slice(i * CHUNK, (i + 1) * CHUNK));
}

/**
 * Makes the scope's rows exactly `dashboard` and `promo`: upserts them, deletes the scope's other
 * rows. Idempotent. Returns how many rows were written and deleted. Rows are stamped with the
 * database clock at the sync's start, comparable with bookings.updated_at (the audit relies on it).
 */
export async function replaceVendorRows(trx: Transaction, scope: SyncScope, dashboard: DashboardRow[], promo: PromoRow[]): Promise<{ upserted: number; deleted: number }> {
  const stamped = <T>(rows: T[]) => rows.map((row) => ({ ...row, updated_at: trx.fn.now() }));
  for (const rows of chunks(dashboard)) await trx('vendor_dashboard').insert(stamped(rows)).onConflict(['vendor_id', 'book_id']).merge();
  for (const rows of chunks(promo)) await trx('vendor_promo_detail').insert(stamped(rows)).onConflict(['vendor_id', 'booking_id']).merge();
  const outside = (table: string, column: string, keep: number[]) => {
    const query = trx(table).whereIn('vendor_id', scope.vendorIds).whereRaw(`NOT (${column} = ANY(?::int[]))`, [keep]);
    return (scope.bookingIds ? query.whereIn(column, scope.bookingIds) : query).delete();
  };
  const deleted = await outside('vendor_dashboard', 'book_id', dashboard.map((row) => row.book_id))
    + await outside('vendor_promo_detail', 'booking_id', promo.map((row) => row.booking_id));
  return { upserted: dashboard.length + promo.length, deleted };
}

export interface ClockCandidate {
  book_id: number;
  book_status: string;
  date: string;
  start_time: string;
  end_time: string;
  timezone: string;
  opening_days: string[];
}

/**
 * Dashboard rows whose status may have moved on with the clock: upcoming or current, on a day that
 * is today somewhere or already past (`latestToday`: the latest date that is today in any zone).
 * The partial index vendor_dashboard_running keeps it cheap; the cafe's own clock decides in code.
 */
export function clockCandidates(latestToday: string, limit = 5000): Promise<ClockCandidate[]> {
  return db('vendor_dashboard as d')
    .join('vendors as v', 'v.id', 'd.vendor_id')
    .whereIn('d.book_status', ['upcoming', 'current'])
    .where('d.date', '<=', latestToday)
    .orderBy('d.date')
    .limit(limit)
    .select('d.book_id', 'd.book_status', 'd.date', 'd.start_time', 'd.end_time', 'v.timezone', 'v.opening_days');
}

/**
 * The audit (sweeper schedule `vendor-audit`): bookings changed within `window` whose rows may be
 * out of line, because every attempt of the sync their change queued failed. It over-approximates
 * (their syncs read the truth under the vendor lock and decide): a shown booking with no row, a row
 * older than the booking, a row whose status, date or start time disagrees, a promo row missing or
 * extra; a booking not shown that has a row. The content check is there because the timestamps
 * alone miss one race: a sync that read the booking just before a change committed is stamped
 * after the change's transaction began.
 */
export async function driftedBookings(window = '24 hours'): Promise<number[]> {
  const rows: Array<{ id: number }> = await db('bookings as b')
    .join('slots as s', 's.id', 'b.slot_id')
    .leftJoin('transactions as t', 't.id', 'b.transaction_id')
    .leftJoin('vendor_dashboard as d', (on) => on.on('d.vendor_id', 'b.vendor_id').andOn('d.book_id', 'b.id'))
    .leftJoin('vendor_promo_detail as p', (on) => on.on('p.vendor_id', 'b.vendor_id').andOn('p.booking_id', 'b.id'))
    .whereRaw('b.updated_at >= now() - ?::interval', [window])
    .where((due) => due
      .where((shown) => shown.where(whereShown).where((drifted) => drifted
        .whereNull('d.book_id')
        .orWhereRaw('d.updated_at < b.updated_at')
        .orWhereRaw(`CASE WHEN b.status = 'confirmed' THEN d.book_status NOT IN ('upcoming', 'current', 'completed') ELSE d.book_status <> b.status END`)
        .orWhereRaw('d.date <> b.book_date OR d.start_time <> s.start_time')
        .orWhereRaw('(p.booking_id IS NULL) <> (t.promo_code_id IS NULL)')))
      .orWhere((hidden) => hidden.whereNot(whereShown).where((rowed) => rowed.whereNotNull('d.book_id').orWhereNotNull('p.booking_id'))))
    .orderBy('b.id')
    .select('b.id');
  return rows.map((row) => row.id);
}

// ---- the cafe's reads (GET /vendor/:vendor_id/dashboard, /promo-details) ----------------------

/** The cafe's dashboard for one day, by start time. */
export function dashboardOf(vendorId: number, date: string) {
  return db('vendor_dashboard as d')
    .where({ 'd.vendor_id': vendorId, 'd.date': date })
    .orderBy([{ column: 'd.start_time' }, { column: 'd.book_id' }])
    .select('d.book_id', 'd.user_id', 'd.username', 'd.game_id', 'd.game_name', 'd.console_id', 'd.date', 'd.start_time', 'd.end_time',
      'd.book_status', 'd.amount', 'd.updated_at');
}

/**
 * The cafe's promo redemptions for bookings dated `from`..`to` (inclusive): the date is the
 * booking's slot date, read from the booking's dashboard row (written in the same sync).
 */
export function promoDetailsOf(vendorId: number, from: string, to: string) {
  return db('vendor_promo_detail as p')
    .join('vendor_dashboard as d', (on) => on.on('d.vendor_id', 'p.vendor_id').andOn('d.book_id', 'p.booking_id'))
    .where('p.vendor_id', vendorId)
    .whereBetween('d.date', [from, to])
    .orderBy([{ column: 'd.date' }, { column: 'd.start_time' }, { column: 'p.booking_id' }])
    .select('p.booking_id', 'p.transaction_id', 'p.promo_code', 'p.discount_applied', 'p.actual_price', 'd.date', 'd.start_time',
      'd.game_name', 'd.username', 'd.book_status', 'p.updated_at');
}
