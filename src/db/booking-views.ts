import { db } from './knex';
import { Actor } from '../domain/booking-types';
import { BookingStatus } from './models';
import { paiseToRupees } from '../domain/money';

// How bookings are read back (SPEC §5.3): one query each, joined with slot, user, game, console
// model and access code.

export interface BookingRoute {
  id: number;
  user_id: number;
  vendor_id: number;
  game_id: number;
  book_date: string;
  status: BookingStatus;
}

/** Enough of a booking to route a change to its partition; null when the actor may not see it. */
export async function findBookingFor(actor: Actor, bookingId: number): Promise<BookingRoute | null> {
  const booking: BookingRoute | undefined = await db('bookings')
    .where('id', bookingId)
    .first('id', 'user_id', 'vendor_id', 'game_id', 'book_date', 'status');
  return booking && canSee(actor, booking) ? booking : null;
}

/** A user sees their own bookings, a cafe the bookings at its cafe, an admin everything. */
export function canSee(actor: Actor, booking: { user_id: number; vendor_id: number }): boolean {
  if (actor.role === 'admin') return true;
  if (actor.role === 'vendor' && booking.vendor_id === actor.vendorId) return true;
  return booking.user_id === actor.userId;
}

const hhmm = (time: string) => time.slice(0, 5);

export async function bookingView(actor: Actor, bookingId: number): Promise<object | null> {
  const row = await db('bookings as b')
    .join('slots as s', 's.id', 'b.slot_id')
    .join('users as u', 'u.id', 'b.user_id')
    .join('games as g', 'g.id', 'b.game_id')
    .leftJoin('access_codes as a', 'a.id', 'b.access_code_id')
    .where('b.id', bookingId)
    .first(
      'b.id', 'b.user_id', 'b.vendor_id', 'b.status', 'b.book_date', 'b.price_paise', 'b.paid_paise', 'b.transaction_id', 'b.hold_expires_at',
      's.start_time', 's.end_time', 'u.name', 'u.email', 'u.phone', 'g.game_name', 'a.code as access_code',
      db.raw(`(SELECT c.model_number FROM consoles c JOIN console_games cg ON cg.console_id = c.id
                WHERE cg.game_id = b.game_id ORDER BY c.id LIMIT 1) AS console_model`),
    );
  if (!row || !canSee(actor, row)) return null;
  return {
    booking: {
      booking_id: `BK-${row.id}`,
      status: row.status,
      date: row.book_date,
      time_slot: { start_time: hhmm(row.start_time), end_time: hhmm(row.end_time) },
      system: row.console_model ?? row.game_name,
      customer: { name: row.name, email: row.email, phone: row.phone },
      amount_paid: row.transaction_id ? paiseToRupees(row.paid_paise ?? row.price_paise) : 0,
      access_code: row.access_code ?? null,
      hold_expires_at: row.status === 'pending_verified' && row.hold_expires_at ? row.hold_expires_at.toISOString() : null,
    },
  };
}

export interface UserBookingsQuery {
  status?: BookingStatus;
  limit: number;
  before?: number;
}

/** Newest first; `before` is the last booking id of the previous page. A cafe sees only its own. */
export async function userBookings(actor: Actor, userId: number, query: UserBookingsQuery): Promise<object[]> {
  const rows = await db('bookings as b')
    .join('slots as s', 's.id', 'b.slot_id')
    .leftJoin('access_codes as a', 'a.id', 'b.access_code_id')
    .where('b.user_id', userId)
    .modify((q) => {
      if (query.status) q.where('b.status', query.status);
      if (query.before) q.where('b.id', '<', query.before);
      if (actor.role === 'vendor' && actor.userId !== userId) q.where('b.vendor_id', actor.vendorId);
    })
    .orderBy('b.id', 'desc')
    .limit(query.limit)
    .select('b.id', 'b.user_id', 'b.game_id', 'b.status', 'b.book_date', 's.id as slot_id', 's.start_time', 's.end_time', 'a.code as access_code');
  return rows.map((row: any) => ({
    booking_id: row.id,
    user_id: row.user_id,
    game_id: row.game_id,
    status: row.status,
    book_date: row.book_date,
    slot: { id: row.slot_id, start_time: hhmm(row.start_time), end_time: hhmm(row.end_time) },
    access_code: row.access_code ?? null,
  }));
}

/**
 * The caller's bookings as the HFG app reads them (SPEC §12, GET /users/bookings): the slot with
 * its times twice (HH:MM:SS, and HH:MM under `time`) and the game and cafe nested where the app
 * looks for them. Newest first.
 */
export async function appBookings(userId: number, query: UserBookingsQuery): Promise<object[]> {
  const rows = await db('bookings as b')
    .join('slots as s', 's.id', 'b.slot_id')
    .join('games as g', 'g.id', 'b.game_id')
    .join('vendors as v', 'v.id', 'b.vendor_id')
    .leftJoin('access_codes as a', 'a.id', 'b.access_code_id')
    .where('b.user_id', userId)
    .modify((q) => {
      if (query.status) q.where('b.status', query.status);
      if (query.before) q.where('b.id', '<', query.before);
    })
    .orderBy('b.id', 'desc')
    .limit(query.limit)
    .select('b.id', 'b.user_id', 'b.status', 'b.book_date', 's.id as slot_id', 's.start_time', 's.end_time', 'a.code as access_code',
      'g.id as game_id', 'g.game_name', 'g.single_slot_price_paise', 'v.id as vendor_id', 'v.cafe_name');
  return rows.map((row: any) => ({
    booking_id: row.id,
    user_id: row.user_id,
    status: row.status,
    book_date: row.book_date,
    access_code: row.access_code ?? null,
    slot: {
      id: row.slot_id,
      start_time: row.start_time,
      end_time: row.end_time,
      time: { start_time: hhmm(row.start_time), end_time: hhmm(row.end_time) },
      gaming_type_id: {
        game_id: row.game_id, game_name: row.game_name, single_slot_price: paiseToRupees(row.single_slot_price_paise),
        vendor_id: row.vendor_id, cafe_name: { cafe_name: row.cafe_name },
      },
    },
  }));
}
