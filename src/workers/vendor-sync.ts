import { Job } from 'bullmq';
import { db } from '../db/knex';
import { hasStarted, bookingDay } from '../domain/slot-availability';
import { VendorSyncData } from '../jobs/vendor-sync';

// The vendor-sync processor (SPEC §8): each vendor's dashboard and promo rows for the bookings a
// transaction changed, upserted from what those bookings are now, so a job run twice, late or out
// of order still leaves the truth. Only bookings that were paid for appear.

interface SyncedBooking {
  id: number;
  vendor_id: number;
  user_id: number;
  username: string;
  game_id: number;
  game_name: string;
  book_date: string;
  start_time: string;
  end_time: string;
  status: string;
  price_paise: number;
  paid_paise: number | null;
  transaction_id: number;
  promo_code: string | null;
  timezone: string;
  opening_days: string[];
}

/** `upcoming`, `current` or `completed` by the cafe's clock for a confirmed booking; else its status. */
function dashboardStatus(booking: SyncedBooking, now: Date): string {
  if (booking.status !== 'confirmed') return booking.status;
  const day = bookingDay(booking, booking.book_date, now);
  if (!hasStarted(day, booking.start_time)) return 'upcoming';
  const ended = day.relation === 'past' || (booking.end_time !== '24:00:00' && booking.end_time <= day.localTime);
  return ended ? 'completed' : 'current';
}

export async function syncVendorBookings(bookingIds: number[], now: Date = new Date()): Promise<number> {
  const bookings: SyncedBooking[] = await db('bookings as b')
    .join('users as u', 'u.id', 'b.user_id')
    .join('games as g', 'g.id', 'b.game_id')
    .join('slots as s', 's.id', 'b.slot_id')
    .join('vendors as v', 'v.id', 'b.vendor_id')
    .join('transactions as t', 't.id', 'b.transaction_id')
    .leftJoin('promo_codes as p', 'p.id', 't.promo_code_id')
    .whereIn('b.id', bookingIds)
    .whereIn('b.status', ['confirmed', 'cancelled', 'refunded'])
    .select('b.id', 'b.vendor_id', 'b.user_id', 'u.name as username', 'b.game_id', 'g.game_name', 'b.book_date', 's.start_time', 's.end_time',
      'b.status', 'b.price_paise', 'b.paid_paise', 'b.transaction_id', 'p.code as promo_code', 'v.timezone', 'v.opening_days');
  if (bookings.length === 0) return 0;
  await db.transaction(async (trx) => {
    await trx('vendor_dashboard').insert(bookings.map((b) => ({
      vendor_id: b.vendor_id, book_id: b.id, user_id: b.user_id, username: b.username, game_id: b.game_id, game_name: b.game_name,
      console_id: null, date: b.book_date, start_time: b.start_time, end_time: b.end_time, book_status: dashboardStatus(b, now),
      amount: b.paid_paise ?? b.price_paise, updated_at: now,
    }))).onConflict(['vendor_id', 'book_id']).merge();
    const promoted = bookings.filter((b) => b.promo_code);
    if (promoted.length) {
      await trx('vendor_promo_detail').insert(promoted.map((b) => ({
        vendor_id: b.vendor_id, booking_id: b.id, transaction_id: b.transaction_id, promo_code: b.promo_code,
        discount_applied: b.price_paise - (b.paid_paise ?? b.price_paise), actual_price: b.price_paise, updated_at: now,
      }))).onConflict(['vendor_id', 'booking_id']).merge();
    }
  });
  return bookings.length;
}

export async function processVendorSyncJob(job: Job<VendorSyncData>): Promise<{ synced: number }> {
  return { synced: await syncVendorBookings(job.data.bookingIds) };
}
