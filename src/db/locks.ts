import { Transaction } from './knex';
import { BookingStatus } from './models';

// The one global lock order of every booking transaction (SPEC §2), so transactions that touch
// several keys wait for each other instead of deadlocking:
//   1. request ledger rows (src/db/request-ledger.ts), by request id
//   2. users, by id (lockUsersAndReadCatalog in src/db/holds.ts)
//   3. bookings, by id
//   4. inventory rows, by (slot_id, book_date) (lockInventory in src/db/inventory.ts)
//   5. promo codes (lockPromo in src/db/promos.ts)
//   6. wallets, by user id (lockWallet in src/db/wallets.ts)
//   7. payments, by id (src/db/payments.ts)
// And one rule: lock, then read. Under READ COMMITTED a statement sees a snapshot taken when it
// started, before any lock wait, so a decision is taken from statements run after the locks.

export interface LockedBooking {
  id: number;
  user_id: number;
  vendor_id: number;
  game_id: number;
  slot_id: number;
  book_date: string;
  status: BookingStatus;
  hold_expires_at: Date | null;
  transaction_id: number | null;
  price_paise: number;
  /** What this booking paid of its confirmation: price less its share of the discount. */
  paid_paise: number | null;
  /** Whether the hold's time ran out, by the database's clock, read after the lock. */
  expired: boolean;
  start_time: string;
  timezone: string;
  opening_days: string[];
}

/**
 * Locks bookings (lock order 3), then reads them with their slot and cafe. The lock statement
 * names `bookings` alone: joined under FOR UPDATE, PostgreSQL's recheck of a row that a
 * concurrent move changed would test the join against the old slot and drop the row, and a cancel
 * would answer 404 for a booking that exists.
 */
export async function lockBookings(trx: Transaction, ids: number[]): Promise<LockedBooking[]> {
  if (ids.length === 0) return [];
  await trx.raw('SELECT id FROM bookings WHERE id = ANY(?::int[]) ORDER BY id FOR UPDATE', [[...new Set(ids)]]);
  return trx('bookings as b')
    .join('slots as s', 's.id', 'b.slot_id')
    .join('vendors as v', 'v.id', 'b.vendor_id')
    .whereIn('b.id', ids)
    .orderBy('b.id')
    .select(
      'b.id', 'b.user_id', 'b.vendor_id', 'b.game_id', 'b.slot_id', 'b.book_date', 'b.status', 'b.hold_expires_at',
      'b.transaction_id', 'b.price_paise', 'b.paid_paise',
      trx.raw('coalesce(b.hold_expires_at <= statement_timestamp(), false) AS expired'),
      's.start_time', 'v.timezone', 'v.opening_days',
    );
}
