import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { allQueueNames, queue } from '../../src/jobs/queues';
import { eventually } from '../helpers/bookings';

// Invariant 7 read straight from SQL: what the bookings truth says the vendor tables hold, written
// here on its own (not through the worker's code), and the tables as they are.

/**
 * A booking is on its cafe's dashboard once paid for: confirmed, cancelled after a confirmation,
 * or refunded. A confirmed one is upcoming, current or completed by the cafe's wall clock.
 */
const EXPECTED_DASHBOARD = `
  SELECT b.id AS book_id, b.vendor_id, b.user_id, u.name AS username, b.game_id, g.game_name,
         to_char(b.book_date, 'YYYY-MM-DD') AS date, s.start_time::text, s.end_time::text,
         CASE WHEN b.status <> 'confirmed' THEN b.status
              WHEN now() AT TIME ZONE v.timezone < b.book_date + s.start_time THEN 'upcoming'
              WHEN now() AT TIME ZONE v.timezone < b.book_date + s.end_time THEN 'current'
              ELSE 'completed' END AS book_status,
         coalesce(b.paid_paise, b.price_paise)::int AS amount
    FROM bookings b JOIN users u ON u.id = b.user_id JOIN games g ON g.id = b.game_id
    JOIN slots s ON s.id = b.slot_id JOIN vendors v ON v.id = b.vendor_id
   WHERE b.vendor_id = ANY(?::int[])
     AND (b.status = 'refunded' OR (b.status IN ('confirmed', 'cancelled') AND b.transaction_id IS NOT NULL))
   ORDER BY b.id`;

const ACTUAL_DASHBOARD = `
  SELECT book_id, vendor_id, user_id, username, game_id, game_name, to_char(date, 'YYYY-MM-DD') AS date,
         start_time::text, end_time::text, book_status, amount::int
    FROM vendor_dashboard WHERE vendor_id = ANY(?::int[]) ORDER BY book_id`;

/** A promo row per paid-for booking whose confirmation redeemed a code: its share of the discount. */
const EXPECTED_PROMO = `
  SELECT b.id AS booking_id, b.vendor_id, t.id AS transaction_id, p.code AS promo_code,
         (b.price_paise - b.paid_paise)::int AS discount_applied, b.price_paise::int AS actual_price
    FROM bookings b JOIN transactions t ON t.id = b.transaction_id JOIN promo_codes p ON p.id = t.promo_code_id
   WHERE b.vendor_id = ANY(?::int[]) AND b.status IN ('confirmed', 'cancelled')
   ORDER BY b.id`;

const ACTUAL_PROMO = `
  SELECT booking_id, vendor_id, transaction_id, promo_code, discount_applied::int, actual_price::int
    FROM vendor_promo_detail WHERE vendor_id = ANY(?::int[]) ORDER BY booking_id`;

const rows = async (sql: string, vendorIds: number[]) => (await db.raw(sql, [vendorIds])).rows;

export const expectedDashboard = (vendorIds: number[]) => rows(EXPECTED_DASHBOARD, vendorIds);
export const actualDashboard = (vendorIds: number[]) => rows(ACTUAL_DASHBOARD, vendorIds);
export const expectedPromo = (vendorIds: number[]) => rows(EXPECTED_PROMO, vendorIds);
export const actualPromo = (vendorIds: number[]) => rows(ACTUAL_PROMO, vendorIds);

/** Asserts both vendor tables of these vendors equal the truth, row for row. */
export async function assertVendorTablesMatchTruth(vendorIds: number[]): Promise<void> {
  assert.equal(await actualDashboard(vendorIds), await expectedDashboard(vendorIds), 'vendor_dashboard equals the bookings truth');
  assert.equal(await actualPromo(vendorIds), await expectedPromo(vendorIds), 'vendor_promo_detail equals the bookings truth');
}

/** Waits until no job is queued, delayed or running on any queue but the sweeper's and the outbox holds no job (socket events wait there for a realtime process these tests do not start), twice in a row. */
export async function waitUntilDrained(timeoutMs = 60_000): Promise<void> {
  let quietOnce = false;
  let busy = '';
  await eventually(async () => {
    const names = allQueueNames().filter((name) => name !== 'sweeper');
    const counts = await Promise.all(names.map((name) => queue(name).getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    const outbox = Number((await db('outbox').where('topic', 'job').count('* as n'))[0].n);
    busy = JSON.stringify({ outbox, queues: Object.fromEntries(names.map((name, i) => [name, counts[i]]).filter(([, c]) => Object.values(c).some((n) => n))) });
    const quiet = outbox === 0 && counts.every((c) => Object.values(c).every((n) => n === 0));
    const done = quiet && quietOnce;
    quietOnce = quiet;
    return done;
  }, 'the queues and the outbox to drain', timeoutMs, 200, () => null).catch((error) => {
    throw new Error(`${(error as Error).message}; still busy: ${busy}`);
  });
}
