import { db, Transaction } from './knex';
import { JobSpec } from './outbox';
import { QUEUE_NAMES } from '../jobs/queues';

// Orders, payments and refunds as this service records them (SPEC §5.4). Razorpay is the truth
// about money; these rows are what the service did with it: which caller an order belongs to and
// what it was for, which payment confirmed what (a payment id confirms at most one set of
// bookings: it is the primary key, and its status moves only forward by conditional updates),
// and which refunds are owed until a payment-verification job has made them at Razorpay.

export interface OrderRow {
  id: string;
  user_id: number;
  amount_paise: number;
  discount_paise: number;
  currency: string;
  receipt: string;
  booking_ids: number[];
  promo_code_id: number | null;
  status: 'created' | 'paid' | 'expired';
}

export type PaymentStatus = 'captured' | 'confirmed' | 'refunded';

export interface PaymentRow {
  id: string;
  order_id: string;
  user_id: number;
  amount_paise: number;
  status: PaymentStatus;
  transaction_id: number | null;
}

export function orderOf(orderId: string, conn: typeof db | Transaction = db): Promise<OrderRow | undefined> {
  return conn('payment_orders').where('id', orderId).first();
}

export function paymentOf(paymentId: string, conn: typeof db | Transaction = db): Promise<PaymentRow | undefined> {
  return conn('payments').where('id', paymentId).first();
}

export async function recordOrder(trx: Transaction, order: Omit<OrderRow, 'status'>): Promise<void> {
  await trx('payment_orders').insert({ ...order, status: 'created' });
}

/**
 * Records a payment Razorpay says is captured, once: a second verification of it (the client's
 * confirm beside a webhook) finds the row. Its order counts as paid from then on.
 */
export async function recordCapturedPayment(trx: Transaction, payment: { id: string; orderId: string; userId: number; amountPaise: number }): Promise<void> {
  await trx('payments')
    .insert({ id: payment.id, order_id: payment.orderId, user_id: payment.userId, amount_paise: payment.amountPaise, status: 'captured' })
    .onConflict('id').ignore();
  await trx('payment_orders').where({ id: payment.orderId, status: 'created' }).update({ status: 'paid', updated_at: trx.fn.now() });
}

/** Locks a payment (lock order 7) and reads it after the lock. NO KEY UPDATE: a refund's foreign key may still share it. */
export async function lockPayment(trx: Transaction, paymentId: string): Promise<PaymentRow | undefined> {
  await trx.raw('SELECT id FROM payments WHERE id = ? FOR NO KEY UPDATE', [paymentId]);
  return paymentOf(paymentId, trx);
}

/** Moves a locked payment on; refuses (throws) if it is not where the caller read it. */
export async function settlePayment(trx: Transaction, paymentId: string, from: PaymentStatus, to: PaymentStatus, transactionId: number | null = null): Promise<void> {
  const changed = await trx('payments').where({ id: paymentId, status: from })
    .update({ status: to, ...(transactionId ? { transaction_id: transactionId } : {}), updated_at: trx.fn.now() });
  if (changed !== 1) throw new Error(`payment ${paymentId} changed under its lock`);
}

/**
 * How long a hold is kept for a payment being verified: a confirmation's Razorpay calls (fetch,
 * capture) with their timeouts and a retry, so the sweeper cannot release the slot meanwhile.
 */
export function verificationFenceSeconds(razorpayTimeoutMs: number): number {
  return Math.ceil((4 * razorpayTimeoutMs) / 1000) + 30;
}

/**
 * The fence between a gateway confirmation and the sweeper, taken before Razorpay is called:
 * holds of `userId` still running by the database's clock are extended by `seconds`, in one
 * conditional update, so an expiry job that locks them next reads them as not expired. A hold
 * that already ran out is not extended: its payment is a late one (SPEC §6). A hold is fenced
 * once, and a confirmation Razorpay refused gives the time back (unfence), so confirming with
 * made-up payment ids never keeps a slot. Returns the holds extended, with their old expiry.
 */
export async function fenceHolds(bookingIds: number[], userId: number, seconds: number): Promise<Fence> {
  return (await db.raw(
    `WITH locked AS (
       SELECT id, hold_expires_at FROM bookings WHERE id = ANY(?::int[]) ORDER BY id FOR UPDATE
     )
     UPDATE bookings b SET hold_expires_at = greatest(b.hold_expires_at, statement_timestamp() + make_interval(secs => ?)),
            fenced_at = statement_timestamp(), updated_at = now()
       FROM locked
      WHERE b.id = locked.id AND b.user_id = ? AND b.status = 'pending_verified'
        AND b.hold_expires_at > statement_timestamp() AND b.fenced_at IS NULL
      RETURNING b.id, locked.hold_expires_at AS previous`,
    [bookingIds, seconds, userId],
  )).rows;
}

export type Fence = Array<{ id: number; previous: Date }>;

/** Gives back the time a fence added to holds still pending, when the confirmation it guarded was refused. */
export async function unfence(fence: Fence): Promise<void> {
  if (fence.length === 0) return;
  await db.raw(
    `UPDATE bookings b SET hold_expires_at = f.previous, updated_at = now()
       FROM unnest(?::int[], ?::timestamptz[]) AS f(id, previous)
      WHERE b.id = f.id AND b.status = 'pending_verified'`,
    [fence.map((f) => f.id), fence.map((f) => f.previous)],
  );
}

export interface RefundRow {
  id: number;
  payment_id: string;
  booking_id: number | null;
  amount_paise: number;
  receipt: string;
  status: 'pending' | 'processed';
}

/**
 * Records a refund owed through Razorpay and returns the job that makes it, for the outbox. The
 * receipt names what is refunded (a booking, or a whole payment), so it is owed once.
 */
export async function oweRefund(trx: Transaction, refund: { paymentId: string; bookingId: number | null; amountPaise: number }): Promise<JobSpec> {
  const receipt = refund.bookingId ? `refund-bk-${refund.bookingId}` : `refund-${refund.paymentId}`;
  const [row] = await trx('refunds')
    .insert({ payment_id: refund.paymentId, booking_id: refund.bookingId, amount_paise: refund.amountPaise, receipt })
    .returning('id');
  return refundJob(row.id);
}

/** One job id per refund, whoever adds it (the outbox, the reconciler): two runs of one refund never overlap. */
export const refundJob = (refundId: number): JobSpec => ({ queue: QUEUE_NAMES.paymentVerification, name: 'refund', data: { refundId }, jobId: `refund-${refundId}` });

export function refundOf(refundId: number): Promise<RefundRow | undefined> {
  return db('refunds').where('id', refundId).first();
}

export async function markRefunded(refundId: number, razorpayRefundId: string): Promise<void> {
  await db('refunds').where({ id: refundId, status: 'pending' })
    .update({ status: 'processed', razorpay_refund_id: razorpayRefundId, updated_at: db.fn.now() });
}
