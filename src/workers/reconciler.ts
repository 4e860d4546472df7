import { db } from '../db/knex';
import { addToOutbox, JobSpec } from '../db/outbox';
import { lockPayment, oweRefund, refundJob, settlePayment } from '../db/payments';
import { paymentJobOptions, settleJobId } from '../jobs/payments';
import { QUEUE_NAMES, queue, RELAYED_JOB_OPTIONS } from '../jobs/queues';
import { logger } from '../logger';
import { relayAfterCommit } from './relay';

// The payment reconciler (SPEC §5.4, §6), run by the sweeper queue's scheduler: whatever Razorpay
// knows that the service may have missed. A captured payment never just disappears:
// - orders still open once their holds could have expired are asked about (a user who paid and
//   closed the app before any webhook arrived), and settled as a webhook would;
// - captured payments that confirmed nothing within a grace period are refunded;
// - refunds still owed after a while (their job failed, or Redis lost it) are queued again.

const BATCH = 100;

export interface ReconcileAges {
  /** An open order is asked about once it is this old: its hold has run out by then. */
  orderAfterMs: number;
  /** A captured payment that confirmed nothing is refunded once it is this old. */
  unusedPaymentAfterMs: number;
  /** A refund still owed is queued again once it is this old. */
  refundAfterMs: number;
}

export const reconcileAges = (holdTtlSeconds: number): ReconcileAges => ({
  orderAfterMs: holdTtlSeconds * 1000 + 60_000,
  unusedPaymentAfterMs: holdTtlSeconds * 1000 + 15 * 60_000,
  refundAfterMs: 10 * 60_000,
});

const olderThan = (ms: number) => new Date(Date.now() - ms);

async function askAboutOpenOrders(ages: ReconcileAges): Promise<number> {
  const orders: Array<{ id: string }> = await db('payment_orders').where('status', 'created')
    .where('created_at', '<', olderThan(ages.orderAfterMs)).orderBy('created_at').limit(BATCH).select('id');
  if (orders.length) {
    await queue(QUEUE_NAMES.paymentVerification).addBulk(orders.map((order) => ({
      name: 'settle', data: { orderId: order.id },
      opts: { ...paymentJobOptions, jobId: settleJobId(order.id), removeOnComplete: true, removeOnFail: true },
    })));
  }
  return orders.length;
}

async function refundUnusedPayments(ages: ReconcileAges): Promise<number> {
  const unused: Array<{ id: string }> = await db('payments').where('status', 'captured')
    .where('created_at', '<', olderThan(ages.unusedPaymentAfterMs)).orderBy('created_at').limit(BATCH).select('id');
  for (const { id } of unused) {
    const outbound = await db.transaction(async (trx) => {
      const payment = await lockPayment(trx, id);
      if (!payment || payment.status !== 'captured') return null; // a confirmation used it meanwhile
      await settlePayment(trx, id, 'captured', 'refunded');
      const job: JobSpec = await oweRefund(trx, { paymentId: id, bookingId: null, amountPaise: payment.amount_paise });
      return addToOutbox(trx, [], [job]);
    });
    if (outbound) {
      logger.warn({ paymentId: id }, 'a captured payment confirmed nothing in time: refunding it');
      relayAfterCommit(outbound);
    }
  }
  return unused.length;
}

async function requeueOwedRefunds(ages: ReconcileAges): Promise<number> {
  const owed: Array<{ id: number }> = await db('refunds').where('status', 'pending')
    .where('created_at', '<', olderThan(ages.refundAfterMs)).orderBy('created_at').limit(BATCH).select('id');
  const payments = queue(QUEUE_NAMES.paymentVerification);
  for (const { id } of owed) {
    const spec = refundJob(id);
    const job = await payments.getJob(spec.jobId!);
    if (!job) await payments.add(spec.name, spec.data, { ...RELAYED_JOB_OPTIONS, jobId: spec.jobId });
    else if (await job.isFailed()) await job.retry();
  }
  return owed.length;
}

export async function reconcilePayments(ages: ReconcileAges): Promise<{ orders: number; unused: number; refunds: number }> {
  return {
    orders: await askAboutOpenOrders(ages),
    unused: await refundUnusedPayments(ages),
    refunds: await requeueOwedRefunds(ages),
  };
}
