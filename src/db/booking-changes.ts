import { Transaction } from './knex';
import { CancelRequest, MoveRequest, Outcome, ReleaseRequest, slotUnavailable } from '../domain/booking-types';
import { bookingDay, canHold, hasStarted, minutesUntilStart } from '../domain/slot-availability';
import { paiseToRupees } from '../domain/money';
import { config } from '../config';
import { canTransition, LIVE_STATUSES } from '../domain/booking-status';
import { Conflict, NotFound } from '../errors';
import { BookingStatus } from './models';
import { canSee } from './booking-views';
import { applyInventory, BookingEvent, bookingUpdated, lockInventory, slotPending, slotReleased } from './inventory';
import { LockedBooking, lockBookings } from './locks';
import { JobSpec } from './outbox';
import { oweRefund } from './payments';
import { changeWallet, lockWallet } from './wallets';

// Cancel, release and move: each one transaction of conditional updates, run by the booking
// worker of the booking's slot key, in the lock order of src/db/locks.ts: bookings, then
// inventory; every decision from reads made after those locks. A request run twice is answered
// from the request ledger before any of this runs (src/db/request-ledger.ts).

export interface ChangeResult {
  outcome: Outcome;
  events: BookingEvent[];
  /** Work the change implies beyond the socket events (a refund), relayed through the outbox. */
  jobs?: JobSpec[];
}

function result(outcome: Outcome, events: BookingEvent[] = [], jobs: JobSpec[] = []): ChangeResult {
  return { outcome, events, jobs };
}

// A booking that exists but is someone else's is "not found" to the asker (SPEC §4).
const notFound = () => result({ status: 404, body: new NotFound('Booking').toBody() });
const invalidState = (message: string, details?: unknown) => result({ status: 409, body: new Conflict('invalid_state', message, details).toBody() });

/** Moves bookings to `to` and gives their units back, guarded by their current status. */
async function endBookings(trx: Transaction, bookings: LockedBooking[], to: BookingStatus): Promise<BookingEvent[]> {
  for (const booking of bookings) {
    const changed = await trx('bookings')
      .where({ id: booking.id, status: booking.status })
      .update({ status: to, updated_at: trx.fn.now() });
    if (changed !== 1) throw new Error(`booking ${booking.id} changed under its lock`);
  }
  const inventory = await lockInventory(trx, bookings.map((b) => ({ slotId: b.slot_id, bookDate: b.book_date })));
  const given = bookings.map((b) => inventory.give(b.slot_id, b.book_date));
  await applyInventory(trx, given);
  return bookings.flatMap((b, i) => [bookingUpdated(b, to), slotReleased(b, given[i].availableAfter)]);
}

export async function cancelBooking(
  trx: Transaction, request: CancelRequest, now: Date = new Date(), cutoffMinutes = config.cancellationCutoffMinutes,
): Promise<ChangeResult> {
  const [booking] = await lockBookings(trx, [request.bookingId]);
  if (!booking || !canSee(request.actor, booking)) return notFound();
  if (!canTransition(booking.status, 'cancelled')) {
    return invalidState(`A ${booking.status} booking cannot be cancelled`, { status: booking.status });
  }
  if (hasStarted(bookingDay(booking, booking.book_date, now), booking.start_time)) {
    return invalidState('The slot has already started');
  }
  if (booking.status === 'confirmed' && minutesUntilStart(booking, booking.book_date, booking.start_time, now) < cutoffMinutes) {
    return invalidState(`A confirmed booking can be cancelled only up to ${cutoffMinutes} minutes before its slot starts`, { cancellation_cutoff_minutes: cutoffMinutes });
  }
  const events = await endBookings(trx, [booking], 'cancelled');
  const refund = booking.status === 'confirmed' ? await refundBooking(trx, booking) : null;
  return result({ status: 200, body: { message: 'Booking canceled successfully', ...(refund ? { refund: refund.view } : {}) } }, events, refund?.jobs);
}

/**
 * Gives back what a cancelled booking paid (lock order: after its inventory): to the wallet at
 * once, or owed through Razorpay, made by a payment-verification job after the commit.
 */
async function refundBooking(trx: Transaction, booking: LockedBooking): Promise<{ view: object; jobs: JobSpec[] } | null> {
  const amount = booking.paid_paise ?? 0;
  const paid = await trx('transactions').where('id', booking.transaction_id).first('id', 'payment_mode', 'payment_id');
  if (!paid) return null;
  const stillConfirmed = await trx('bookings').where({ transaction_id: paid.id, status: 'confirmed' }).count('* as n').first();
  await trx('transactions').where('id', paid.id)
    .update({ status: Number(stillConfirmed?.n) > 0 ? 'partially_refunded' : 'refunded', updated_at: trx.fn.now() });
  if (amount === 0) return null;
  const view = { amount: paiseToRupees(amount), to: paid.payment_mode };
  if (paid.payment_mode === 'wallet') {
    await lockWallet(trx, booking.user_id);
    await changeWallet(trx, booking.user_id, amount, `Refund of BK-${booking.id}`, paid.id);
    return { view: { ...view, status: 'processed' }, jobs: [] };
  }
  const job = await oweRefund(trx, { paymentId: paid.payment_id, bookingId: booking.id, amountPaise: amount });
  return { view: { ...view, status: 'pending' }, jobs: [job] };
}

/**
 * A user giving up holds before paying (actor set), or the sweeper expiring them (actor null).
 * A user's release is all or nothing; the sweeper skips bookings that were confirmed, cancelled
 * or extended meanwhile, which makes a repeated expiry job change nothing.
 */
export async function releaseHolds(trx: Transaction, request: ReleaseRequest): Promise<ChangeResult> {
  const bookings = await lockBookings(trx, request.bookingIds);
  const actor = request.actor;
  if (actor === null) {
    // The database's clock decides, read after the lock: a hold extended or confirmed meanwhile stays.
    const expired = bookings.filter((b) => b.status === 'pending_verified' && b.expired);
    const events = expired.length ? await endBookings(trx, expired, 'verification_failed') : [];
    return result({ status: 200, body: { message: 'Expired holds released', booking_ids: expired.map((b) => b.id) } }, events);
  }
  const found = new Map(bookings.filter((b) => canSee(actor, b)).map((b) => [b.id, b]));
  const missing = request.bookingIds.filter((id) => !found.has(id));
  if (missing.length) return notFound();
  const released = { status: 200, body: { message: 'Slots released', booking_ids: bookings.map((b) => b.id) } };
  const notHeld = bookings.filter((b) => b.status !== 'pending_verified');
  if (notHeld.length) {
    return invalidState('Only pending holds can be released', { booking_ids: notHeld.map((b) => b.id) });
  }
  return result(released, await endBookings(trx, bookings, 'cancelled'));
}

/**
 * Moves a held or confirmed booking to another slot of its game, in one transaction: the old unit
 * is given back only because the new one was taken. The job runs in the target key's partition;
 * a move to another date also locks the source key's inventory row, in the global lock order.
 */
export async function moveBooking(trx: Transaction, request: MoveRequest, maxDaysAhead: number, now: Date = new Date()): Promise<ChangeResult> {
  const [booking] = await lockBookings(trx, [request.bookingId]);
  if (!booking || !canSee(request.actor, booking)) return notFound();
  const moved = { status: 200, body: { message: 'Booking moved', booking_id: booking.id, slot_id: request.slotId, book_date: request.bookDate, status: booking.status } };
  if (!LIVE_STATUSES.includes(booking.status)) {
    return invalidState(`A ${booking.status} booking cannot be moved`, { status: booking.status });
  }
  if (booking.slot_id === request.slotId && booking.book_date === request.bookDate) return result(moved);
  if (hasStarted(bookingDay(booking, booking.book_date, now), booking.start_time)) {
    return invalidState('The booked slot has already started');
  }
  const target = await trx('slots').where({ id: request.slotId, game_id: booking.game_id }).first('id', 'start_time');
  if (!target || !canHold(bookingDay(booking, request.bookDate, now), target.start_time, maxDaysAhead)) return result(slotUnavailable([request.slotId]));
  const inventory = await lockInventory(trx, [
    { slotId: booking.slot_id, bookDate: booking.book_date },
    { slotId: request.slotId, bookDate: request.bookDate },
  ]);
  if (inventory.available(request.slotId, request.bookDate) < 1) return result(slotUnavailable([request.slotId]));
  const taken = inventory.take(request.slotId, request.bookDate);
  const given = inventory.give(booking.slot_id, booking.book_date);
  await applyInventory(trx, [taken, given]);
  const changed = await trx('bookings')
    .where({ id: booking.id, status: booking.status, slot_id: booking.slot_id, book_date: booking.book_date })
    .update({ slot_id: request.slotId, book_date: request.bookDate, updated_at: trx.fn.now() });
  if (changed !== 1) throw new Error(`booking ${booking.id} changed under its lock`);
  const after = { ...booking, slot_id: request.slotId, book_date: request.bookDate };
  return result(moved, [slotReleased(booking, given.availableAfter), slotPending(after, taken.availableAfter), bookingUpdated(after, booking.status)]);
}
