import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { sweepExpiredHolds } from '../../src/workers/sweeper';
import type { CheckoutResponse } from '../../scripts/fake-razorpay';
import { adminToken, api, ApiResponse } from './api';
import { eventually } from './bookings';
import { fakeRazorpay } from './razorpay';

// Shared steps and SQL checks of the payment tests: invariants 4 and 5 read straight from the
// database after each test, and the client's calls as the app and the dashboard make them.

export async function credit(userId: number, rupees: number): Promise<void> {
  const response = await api('POST', `/users/${userId}/wallet/credit`, { token: adminToken(), body: { amount: rupees, reason: 'test top-up' } });
  assert.is(response.status, 200, JSON.stringify(response.body));
}

export function confirm(token: string, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  return api('POST', '/bookings/confirm', { token, body, headers });
}

/**
 * A confirmation as a client makes it: on a 202 (the job outlasted SYNC_WAIT_MS, as on a loaded
 * machine) it follows status_url until the job ends, and answers as the synchronous reply would have.
 */
export async function confirmFollowed(token: string, body: unknown): Promise<ApiResponse> {
  const first = await confirm(token, body);
  if (first.status !== 202) return first;
  const job = await eventually(async () => {
    const polled = (await api('GET', first.body.status_url, { token })).body;
    return polled.state === 'completed' || polled.state === 'failed' ? polled : undefined;
  }, 'the confirmation job to end', 30_000, 100);
  return { ...first, status: job.status, body: job.result ?? job.error };
}

/** An order for bookings, priced by the server; insists on 200. */
export async function orderFor(token: string, bookingIds: number[], extra: Record<string, unknown> = {}): Promise<{ id: string; amount: number }> {
  const response = await api('POST', '/create_order', { token, body: { currency: 'INR', receipt: `rcpt_${Date.now()}`, booking_ids: bookingIds, ...extra } });
  assert.is(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

/** An order of an amount only, as the HFG app makes it. */
export async function amountOrder(token: string, paise: number): Promise<{ id: string; amount: number }> {
  const response = await api('POST', '/create_order', { token, body: { amount: paise, currency: 'INR', receipt: `order_rcpt_${Date.now()}` } });
  assert.is(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

export const pay = (orderId: string, options: { capture?: boolean; amount?: number } = {}): CheckoutResponse => fakeRazorpay().pay(orderId, options);

/** A gateway confirmation body with the checkout's response. */
export const gatewayBody = (bookingIds: number[], checkout: CheckoutResponse) => ({ booking_id: bookingIds, payment_mode: 'payment_gateway', ...checkout });

/** Ends holds as the sweeper does once their time ran out. */
export async function expireHolds(bookingIds: number[]): Promise<void> {
  await db('bookings').whereIn('id', bookingIds).update({ hold_expires_at: db.raw(`now() - interval '1 second'`) });
  await sweepExpiredHolds();
  await eventually(async () => (await db('bookings').whereIn('id', bookingIds).where('status', 'verification_failed').count('* as n'))[0].n == bookingIds.length,
    `holds ${bookingIds} to expire`);
}

export async function statusesOf(bookingIds: number[]): Promise<string[]> {
  const rows = await db('bookings').whereIn('id', bookingIds).orderBy('id').select('status');
  return rows.map((row: { status: string }) => row.status);
}

/** Every wallet whose balance is not the sum of its ledger, or is negative (invariant 5). */
export async function walletsOutOfLine(): Promise<unknown[]> {
  return (await db.raw(
    `SELECT w.user_id, w.balance_paise, coalesce(sum(l.amount_paise), 0)::bigint AS ledger
       FROM wallets w LEFT JOIN wallet_ledger l ON l.user_id = w.user_id
      GROUP BY w.user_id, w.balance_paise
     HAVING w.balance_paise <> coalesce(sum(l.amount_paise), 0) OR w.balance_paise < 0`,
  )).rows;
}

/**
 * Invariant 4 in SQL: a payment id confirms at most one set of bookings (one transaction, whose
 * bookings all name it), and a confirmed payment's transaction is for its amount. Returns the
 * payments that break it.
 */
export async function paymentsOutOfLine(): Promise<unknown[]> {
  return (await db.raw(
    `SELECT p.id, p.status, p.transaction_id, t.payment_id, t.amount_paise, p.amount_paise AS paid,
            (SELECT count(*) FROM transactions x WHERE x.payment_id = p.id)::int AS transactions
       FROM payments p LEFT JOIN transactions t ON t.id = p.transaction_id
      WHERE (SELECT count(*) FROM transactions x WHERE x.payment_id = p.id) > 1
         OR (p.status = 'confirmed' AND (t.id IS NULL OR t.payment_id <> p.id OR t.amount_paise <> p.amount_paise))
         OR (p.status <> 'confirmed' AND p.transaction_id IS NOT NULL)`,
  )).rows;
}

/** A captured payment ends confirmed or refunded: refunded ones have their whole amount owed back, and Razorpay refunded it. */
export async function assertSettled(paymentId: string): Promise<'confirmed' | 'refunded'> {
  const payment = await db('payments').where('id', paymentId).first('status', 'amount_paise');
  assert.ok(payment, `payment ${paymentId} was recorded`);
  assert.ok(['confirmed', 'refunded'].includes(payment.status), `payment ${paymentId} is ${payment.status}`);
  if (payment.status === 'refunded') {
    await eventually(async () => (await db('refunds').where({ payment_id: paymentId, status: 'processed' }).sum('amount_paise as s').first())?.s == payment.amount_paise,
      `the refund of ${paymentId} to be made`, 10000);
    assert.is(fakeRazorpay().payments.get(paymentId)!.amount_refunded, payment.amount_paise, 'Razorpay refunded it, once');
  }
  return payment.status;
}
