import { Transaction } from './knex';
import { Actor, ConfirmRequest, Outcome, slotUnavailable } from '../domain/booking-types';
import { paiseToRupees, shareDiscount } from '../domain/money';
import { newAccessCode } from '../domain/access-code';
import { Conflict, Forbidden, InsufficientFunds, Invalid, NotFound } from '../errors';
import { canSee } from './booking-views';
import { applyInventory, BookingEvent, bookingUpdated, InventoryChange, lockInventory, slotPending } from './inventory';
import { LockedBooking, lockBookings } from './locks';
import { JobSpec } from './outbox';
import { lockPayment, oweRefund, orderOf, OrderRow, PaymentRow, settlePayment } from './payments';
import { lockPromo, recordRedemption } from './promos';
import { changeWallet, lockWallet } from './wallets';

// The confirm transition (SPEC §5.3, §6): one transaction in the booking partition of the first
// booking's key, in the lock order of src/db/locks.ts (bookings, inventory, promo, wallet,
// payment), deciding from reads made after those locks. A gateway payment arrives here verified
// and captured (src/workers/payment-verification.ts); a wallet payment is debited here.
//
// A held booking is confirmed on the unit it holds. A booking the sweeper expired meanwhile
// retakes its slot if a unit is free (a late payment); if not, a captured payment is refunded and
// the booking marked `refunded`: a captured payment always ends confirmed or refunded.

export interface ConfirmResult {
  outcome: Outcome;
  events: BookingEvent[];
  jobs: JobSpec[];
}

const answer = (outcome: Outcome, events: BookingEvent[] = [], jobs: JobSpec[] = []): ConfirmResult => ({ outcome, events, jobs });
const refusal = (error: Invalid | Conflict | Forbidden | NotFound | InsufficientFunds) => answer({ status: error.status, body: error.toBody() });

/** The answer of a confirmation, the first time and on every repeat: built from what it recorded. */
async function confirmationAnswer(trx: Transaction, transactionId: number): Promise<Outcome> {
  const rows: Array<{ id: number; amount_paise: number; discount_paise: number; code: string }> = await trx('transactions as t')
    .join('bookings as b', 'b.transaction_id', 't.id')
    .join('access_codes as a', 'a.id', 'b.access_code_id')
    .where('t.id', transactionId)
    .orderBy('b.id')
    .select('b.id', 't.amount_paise', 't.discount_paise', 'a.code');
  return {
    status: 200,
    body: {
      message: 'Booking confirmed',
      booking_ids: rows.map((row) => row.id),
      access_code: rows[0].code,
      amount_paid: paiseToRupees(rows[0].amount_paise),
      discount: paiseToRupees(rows[0].discount_paise),
      transaction_id: transactionId,
    },
  };
}

/** A confirmation that already succeeded with this payment (or a wallet debit): its first answer, never a second charge. */
async function repeatOf(trx: Transaction, bookings: LockedBooking[], request: ConfirmRequest): Promise<Outcome | null> {
  const transactionId = bookings[0].transaction_id;
  if (!transactionId || bookings.some((b) => b.transaction_id !== transactionId || b.status !== 'confirmed')) return null;
  const earlier = await trx('transactions').where('id', transactionId).first('payment_mode', 'payment_id');
  const same = request.payment.mode === 'wallet'
    ? earlier.payment_mode === 'wallet'
    : earlier.payment_mode === 'payment_gateway' && earlier.payment_id === request.payment.paymentId;
  return same ? confirmationAnswer(trx, transactionId) : null;
}

async function issueAccessCode(trx: Transaction): Promise<{ id: number; code: string }> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const rows = (await trx.raw('INSERT INTO access_codes (code) VALUES (?) ON CONFLICT (code) DO NOTHING RETURNING id, code', [newAccessCode()])).rows;
    if (rows.length) return rows[0];
  }
  throw new Error('no free access code after 8 draws');
}

interface Gateway {
  payment: PaymentRow;
  order: OrderRow;
  /** The order was made for exactly these bookings: a payment that cannot confirm them is refunded now. */
  forTheseBookings: boolean;
}

/**
 * The promo the confirmation applies. An order made for bookings was priced by the server, with
 * its promo or none: a confirmation naming another is refused before anything is decided, so a
 * typo never costs the customer a payment that fits. Otherwise the request's promo applies.
 */
async function promoCodeOf(trx: Transaction, request: ConfirmRequest, order: OrderRow | null): Promise<string | null | Invalid> {
  if (!order || order.booking_ids.length === 0) return request.promoCode ?? null;
  const ordered = order.promo_code_id ? (await trx('promo_codes').where('id', order.promo_code_id).first('code')).code as string : null;
  if (request.promoCode && request.promoCode.toUpperCase() !== ordered?.toUpperCase()) {
    return new Invalid(ordered ? `The order was priced with promo code ${ordered}, not ${request.promoCode}` : `The order was priced without a promo code; make a new order to use ${request.promoCode}`);
  }
  return ordered;
}

export async function confirmBookings(trx: Transaction, request: ConfirmRequest): Promise<ConfirmResult> {
  // Lock, then read: the bookings.
  const bookings = await lockBookings(trx, request.bookingIds);
  const viewer: Actor = request.actor ?? { userId: request.userId, role: 'user', vendorId: null };
  if (bookings.length !== new Set(request.bookingIds).size || bookings.some((b) => !canSee(viewer, b) || b.user_id !== request.userId)) {
    return refusal(new NotFound('Booking'));
  }
  const repeat = await repeatOf(trx, bookings, request);
  if (repeat) return answer(repeat);
  if (new Set(bookings.map((b) => b.vendor_id)).size > 1) return refusal(new Conflict('invalid_state', 'The bookings of one confirmation must be at one cafe'));

  const { payment } = request;
  const order = payment.mode === 'payment_gateway' ? (await orderOf(payment.orderId, trx)) ?? null : null;
  if (payment.mode === 'payment_gateway' && (!order || order.user_id !== request.userId)) {
    return refusal(new Forbidden('The payment\'s order was made by another user'));
  }
  const forTheseBookings = !!order && order.booking_ids.length > 0
    && [...order.booking_ids].sort((a, b) => a - b).join() === bookings.map((b) => b.id).join();
  if (order && order.booking_ids.length > 0 && !forTheseBookings) {
    return refusal(new Invalid('The payment\'s order was made for other bookings', { order_booking_ids: order.booking_ids }));
  }

  const late = bookings.filter((b) => b.status === 'verification_failed');
  const stuck = bookings.filter((b) => b.status !== 'pending_verified' && b.status !== 'verification_failed');

  // Lock, then read: the units late bookings would retake, the promo, the wallet, the payment.
  const inventory = await lockInventory(trx, late.map((b) => ({ slotId: b.slot_id, bookDate: b.book_date })));
  const total = bookings.reduce((sum, b) => sum + b.price_paise, 0);
  const code = await promoCodeOf(trx, request, order);
  if (code instanceof Invalid) return refusal(code);
  const promo = code ? await lockPromo(trx, code, { userId: request.userId, vendorId: bookings[0].vendor_id, totalPaise: total }) : null;
  const balance = payment.mode === 'wallet' ? await lockWallet(trx, request.userId) : null;
  const gateway: Gateway | null = payment.mode === 'payment_gateway'
    ? { payment: (await lockPayment(trx, payment.paymentId))!, order: order!, forTheseBookings }
    : null;

  // Decide.
  if (gateway) {
    const problem = paymentProblem(gateway.payment, request);
    if (problem) return refusal(problem);
  }
  const unusable = stuck.length > 0
    ? new Conflict('invalid_state', 'Only held bookings can be confirmed', { booking_ids: stuck.map((b) => b.id), statuses: stuck.map((b) => b.status) })
    : promo && !promo.ok ? new Conflict('invalid_state', `Promo code ${code} cannot be applied: ${promo.reason}`, { reason: promo.reason })
      : null;
  const discount = promo?.ok ? promo.discountPaise : 0;
  const due = total - discount;
  const mismatch = gateway && !unusable && gateway.payment.amount_paise !== due
    ? new Invalid(`The payment is for ${gateway.payment.amount_paise} paise; these bookings cost ${due} paise`, { paid: gateway.payment.amount_paise, amount_due: due })
    : null;
  if (unusable || mismatch) {
    // A payment made for exactly these bookings can pay for nothing else: it goes back now. Any
    // other stays captured for a confirmation that fits it; the reconciler refunds it if none comes.
    return gateway?.forTheseBookings ? refundWhole(trx, gateway.payment, [], (unusable ?? mismatch)!) : refusal((unusable ?? mismatch)!);
  }
  // Late bookings retake units one by one: two of them on one slot need two free units.
  const retaken = late.map((b) => (inventory.available(b.slot_id, b.book_date) >= 1 ? inventory.take(b.slot_id, b.book_date) : null));
  if (retaken.includes(null)) {
    const full = [...new Set(late.filter((_, i) => !retaken[i]).map((b) => b.slot_id))];
    const error = new Conflict('slot_unavailable', 'The hold expired before the payment arrived, and its slot was taken meanwhile', { unavailable_slot_ids: full });
    return gateway ? refundWhole(trx, gateway.payment, late, error) : answer(slotUnavailable(full));
  }
  if (balance !== null && balance < due) {
    return refusal(new InsufficientFunds('Wallet balance is too low', { balance: paiseToRupees(balance), amount_due: paiseToRupees(due) }));
  }

  // Write.
  const [{ id: transactionId }] = await trx('transactions').insert({
    user_id: request.userId, vendor_id: bookings[0].vendor_id, payment_mode: payment.mode, amount_paise: due, discount_paise: discount,
    promo_code_id: promo?.ok ? promo.promoCodeId : null, payment_id: payment.mode === 'payment_gateway' ? payment.paymentId : null,
  }).returning('id');
  const accessCode = await issueAccessCode(trx);
  const shares = shareDiscount(bookings.map((b) => b.price_paise), discount);
  for (const [index, booking] of bookings.entries()) {
    const changed = await trx('bookings').where({ id: booking.id, status: booking.status }).update({
      status: 'confirmed', transaction_id: transactionId, access_code_id: accessCode.id,
      paid_paise: booking.price_paise - shares[index], updated_at: trx.fn.now(),
    });
    if (changed !== 1) throw new Error(`booking ${booking.id} changed under its lock`);
  }
  await applyInventory(trx, retaken as InventoryChange[]);
  if (promo?.ok) await recordRedemption(trx, promo.promoCodeId, request.userId, transactionId, discount);
  if (balance !== null && due > 0) await changeWallet(trx, request.userId, -due, `Booking ${bookings.map((b) => `BK-${b.id}`).join(', ')}`, transactionId);
  if (gateway) await settlePayment(trx, gateway.payment.id, 'captured', 'confirmed', transactionId);

  const events = [
    ...bookings.map((b) => bookingUpdated(b, 'confirmed')),
    ...late.map((b, i) => slotPending(b, retaken[i]!.availableAfter)),
  ];
  return answer(await confirmationAnswer(trx, transactionId), events);
}

/** Why a verified payment cannot pay for this request at all, or null. */
function paymentProblem(payment: PaymentRow | undefined, request: ConfirmRequest): Conflict | Forbidden | null {
  if (!payment) return new Conflict('invalid_state', 'The payment has not been verified');
  if (payment.user_id !== request.userId) return new Forbidden('The payment was made for another user\'s order');
  if (payment.status === 'confirmed') return new Conflict('duplicate', 'This payment already confirmed other bookings', { transaction_id: payment.transaction_id });
  if (payment.status === 'refunded') return new Conflict('invalid_state', 'This payment was refunded');
  return null;
}

/** Refunds a captured payment in full and marks the late bookings it came for `refunded`; answers `error`, saying so. */
async function refundWhole(trx: Transaction, payment: PaymentRow, late: LockedBooking[], error: Invalid | Conflict): Promise<ConfirmResult> {
  for (const booking of late) {
    const changed = await trx('bookings').where({ id: booking.id, status: 'verification_failed' }).update({ status: 'refunded', updated_at: trx.fn.now() });
    if (changed !== 1) throw new Error(`booking ${booking.id} changed under its lock`);
  }
  await settlePayment(trx, payment.id, 'captured', 'refunded');
  const job = await oweRefund(trx, { paymentId: payment.id, bookingId: null, amountPaise: payment.amount_paise });
  const body = error.toBody();
  const refund = { amount: paiseToRupees(payment.amount_paise), to: 'payment_gateway', status: 'pending', payment_id: payment.id };
  return answer(
    { status: error.status, body: { ...body, message: `${body.message}; the payment will be refunded`, details: { ...(body.details as object ?? {}), refund } } },
    late.map((b) => bookingUpdated(b, 'refunded')),
    [job],
  );
}
