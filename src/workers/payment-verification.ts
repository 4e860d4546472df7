import { Job, UnrecoverableError } from 'bullmq';
import { config } from '../config';
import { db } from '../db/knex';
import { fenceHolds, unfence, markRefunded, orderOf, OrderRow, paymentOf, recordCapturedPayment, recordOrder, refundOf, verificationFenceSeconds } from '../db/payments';
import { canSee } from '../db/booking-views';
import { previewPromo } from '../db/promos';
import { LedgerContext, recordedOutcome, replayOfRequest, runLedgered } from '../db/request-ledger';
import { ConfirmRequest, Outcome } from '../domain/booking-types';
import { AppError, Conflict, Forbidden, Invalid, NotFound } from '../errors';
import { bookingJobOptions, bookingQueue, partitionForKey } from '../jobs/booking';
import { formatJobRef } from '../jobs/job-ref';
import { jobWaiter, outcomeOf } from '../jobs/job-waiter';
import { bookingQueueName } from '../jobs/queues';
import { CaptureRequest, ClientPaymentJobName, CreateOrderRequest, GatewayConfirmRequest, paymentPayloadProblem, PaymentJobs } from '../jobs/payments';
import { capturePayment, createOrder, fetchPayment, GatewayError, GatewayPayment, paymentsOfOrder, refundOnce } from '../payments/razorpay';
import { logger } from '../logger';

// The processors of the payment-verification queue: every Razorpay call of the service. A
// verified payment's confirmation is handed to the booking partition of its bookings (a `confirm`
// booking job), so the slot logic stays serial per key while Razorpay is slow. Before calling
// Razorpay for a confirmation, the holds are fenced against the sweeper (fenceHolds): extended by
// the database's clock, so their slots cannot be released meanwhile. A transient Razorpay failure
// (5xx, timeout) fails the attempt and BullMQ retries it with backoff; a refusal is an answer.

const ENDPOINTS: Record<ClientPaymentJobName, string> = {
  'create-order': 'POST /create_order',
  capture: 'POST /capture_payment',
  confirm: 'POST /bookings/confirm',
};

/** How long a payment job waits for the confirm job it handed to a booking partition. */
const CONFIRM_WAIT_MS = 30_000;
/** An order nobody paid is closed after this long, and the reconciler stops asking about it. */
const ORDER_EXPIRES_AFTER_MS = 24 * 3600_000;

type Requested<N extends ClientPaymentJobName> = PaymentJobs[N]['requests'][0];

/** Writes a request's answer in the ledger with the effect that `effect` makes in the same transaction. */
function inLedger(request: Requested<ClientPaymentJobName>, context: LedgerContext, effect: (trx: Parameters<Parameters<typeof db.transaction>[0]>[0]) => Promise<Outcome>): Promise<Outcome> {
  return db.transaction(async (trx) => (await runLedgered(trx, [request], context, async () => [await effect(trx)]))[0]);
}

const refusalOf = (error: AppError): Outcome => ({ status: error.status, body: error.toBody() });

/** A payment Razorpay refused to tell about is unknown to the caller; a transient failure is retried. */
async function fetchKnownPayment(paymentId: string): Promise<GatewayPayment> {
  try {
    return await fetchPayment(paymentId);
  } catch (error) {
    if (error instanceof GatewayError && !error.transient) throw new NotFound('Payment');
    throw error;
  }
}

/**
 * Makes sure Razorpay holds the money for `order`: the payment is the order's, captured (captured
 * here when only authorized; a capture that lost a race with another is read again), and for the
 * order's amount.
 */
async function verifiedPayment(payment: GatewayPayment, order: OrderRow): Promise<GatewayPayment> {
  if (payment.order_id !== order.id) throw new Invalid('The payment belongs to another order');
  if (payment.amount !== order.amount_paise || payment.currency !== order.currency) {
    // Never captured here; one captured already (an account that captures by itself) is
    // recorded, so that the reconciler refunds it when nothing it fits is confirmed with it.
    if (payment.status === 'captured') await recordPayment(payment, order);
    throw new Invalid(`The payment is for ${payment.amount} paise; its order is for ${order.amount_paise}`);
  }
  let current = payment;
  if (current.status === 'authorized') {
    try {
      current = await capturePayment(current.id, current.amount, current.currency);
    } catch (error) {
      if (!(error instanceof GatewayError) || error.transient) throw error;
      current = await fetchKnownPayment(current.id);
    }
  }
  if (current.status !== 'captured') throw new Conflict('invalid_state', `The payment is ${current.status}, not captured`);
  return current;
}

async function recordPayment(payment: GatewayPayment, order: OrderRow): Promise<void> {
  await db.transaction((trx) => recordCapturedPayment(trx, { id: payment.id, orderId: order.id, userId: order.user_id, amountPaise: payment.amount }));
}

const fence = (bookingIds: number[], userId: number) => fenceHolds(bookingIds, userId, verificationFenceSeconds(config.razorpayTimeoutMs));

/** Hands a verified confirmation to the booking partition of its first booking's key, and waits for its answer. */
async function confirmInPartition(request: ConfirmRequest): Promise<Outcome> {
  const first = await db('bookings').where('id', request.bookingIds[0]).first('game_id', 'book_date');
  if (!first) return refusalOf(new NotFound('Booking'));
  const partition = partitionForKey(first.game_id, first.book_date);
  const jobId = `confirm-${request.requestId}`;
  // Listening first: the job announces its end once committed, maybe before the add returns. The
  // id is the request's, so a re-run of this job joins the confirm job a first run added.
  const ended = jobWaiter.join(bookingQueueName(partition), jobId, CONFIRM_WAIT_MS);
  await bookingQueue(partition).add('confirm', { requests: [request] }, { ...bookingJobOptions, jobId });
  const end = await ended;
  if (!end || end.state === 'failed') throw new Error(`confirm job ${jobId} ${end ? 'failed' : 'did not finish in time'}`);
  return outcomeOf(end, 0);
}

// ---- client requests --------------------------------------------------------------------------

async function createOrderFor(request: CreateOrderRequest, context: LedgerContext): Promise<Outcome> {
  let amount = request.amountPaise!;
  let owner = request.actor.userId;
  let discount = 0;
  let promoCodeId: number | null = null;
  if (request.bookingIds) {
    const bookings: Array<{ id: number; user_id: number; vendor_id: number; status: string; price_paise: number }> =
      await db('bookings').whereIn('id', request.bookingIds).select('id', 'user_id', 'vendor_id', 'status', 'price_paise');
    if (bookings.length !== new Set(request.bookingIds).size || bookings.some((b) => !canSee(request.actor, b))) throw new NotFound('Booking');
    if (new Set(bookings.map((b) => b.user_id)).size > 1 || new Set(bookings.map((b) => b.vendor_id)).size > 1) {
      throw new Invalid('One order pays for bookings of one user at one cafe');
    }
    const notHeld = bookings.filter((b) => b.status !== 'pending_verified');
    if (notHeld.length) throw new Conflict('invalid_state', 'Only held bookings can be paid for', { booking_ids: notHeld.map((b) => b.id) });
    owner = bookings[0].user_id;
    const total = bookings.reduce((sum, b) => sum + b.price_paise, 0);
    if (request.promoCode) {
      const promo = await previewPromo(db, request.promoCode, { userId: owner, vendorId: bookings[0].vendor_id, totalPaise: total });
      if (!promo.ok) throw new Conflict('invalid_state', `Promo code ${request.promoCode} cannot be applied: ${promo.reason}`, { reason: promo.reason });
      discount = promo.discountPaise;
      promoCodeId = promo.promoCodeId;
    }
    const due = total - discount;
    if (request.amountPaise !== undefined && request.amountPaise !== due) {
      throw new Invalid(`amount must be the amount due, ${due} paise`, { amount_due: due });
    }
    if (due < 100) throw new Conflict('invalid_state', 'Razorpay takes at least 100 paise; pay this with the wallet', { amount_due: due });
    amount = due;
  }
  const order = await createOrder({ amount, currency: request.currency, receipt: request.receipt, notes: { request_id: request.requestId } });
  return inLedger(request, context, async (trx) => {
    await recordOrder(trx, {
      id: order.id, user_id: owner, amount_paise: amount, discount_paise: discount, currency: order.currency, receipt: request.receipt,
      booking_ids: request.bookingIds ?? [], promo_code_id: promoCodeId,
    });
    return {
      status: 200,
      body: { id: order.id, amount, currency: order.currency, receipt: request.receipt, status: 'created', ...(request.bookingIds ? { booking_ids: request.bookingIds, discount: discount / 100 } : {}) },
    };
  });
}

async function capture(request: CaptureRequest, context: LedgerContext): Promise<Outcome> {
  const order = await orderOf(request.orderId);
  if (!order) throw new NotFound('Order');
  if (order.user_id !== request.actor.userId && request.actor.role !== 'admin') throw new Forbidden('This order was made by another user');
  if (order.booking_ids.length) await fence(order.booking_ids, order.user_id);
  const payment = await verifiedPayment(await fetchKnownPayment(request.paymentId), order);
  const outcome = await inLedger(request, context, async (trx) => {
    await recordCapturedPayment(trx, { id: payment.id, orderId: order.id, userId: order.user_id, amountPaise: payment.amount });
    return { status: 200, body: { message: 'Payment captured', payment_id: payment.id, order_id: order.id, status: 'captured' } };
  });
  // SPEC §5.4: an order made for bookings confirms them too, so an app that stops here is booked.
  if (order.booking_ids.length) await settleForOrder(order, payment.id);
  return outcome;
}

async function confirmWithGateway(request: GatewayConfirmRequest, context: LedgerContext): Promise<Outcome> {
  const known = await paymentOf(request.paymentId);
  let orderId = known?.order_id;
  if (orderId && request.orderId && orderId !== request.orderId) throw new Invalid('The payment belongs to another order');
  if (!known) {
    const fenced = await fence(request.bookingIds, request.userId);
    try {
      const payment = await fetchKnownPayment(request.paymentId);
      if (request.orderId && payment.order_id !== request.orderId) throw new Invalid('The payment belongs to another order');
      const order = await orderOf(payment.order_id);
      if (!order) throw new NotFound('Order');
      if (order.user_id !== request.userId) throw new Forbidden('The payment\'s order was made by another user');
      await recordPayment(await verifiedPayment(payment, order), order);
      orderId = order.id;
    } catch (error) {
      if (error instanceof AppError) await unfence(fenced);
      throw error;
    }
  }
  return confirmInPartition({
    requestId: request.requestId, httpRequestId: request.httpRequestId, actor: request.actor, userId: request.userId,
    bookingIds: request.bookingIds, ...(request.promoCode ? { promoCode: request.promoCode } : {}),
    payment: { mode: 'payment_gateway', paymentId: request.paymentId, orderId: orderId! },
    publicJobId: context.jobIdOf(0), ...(request.idempotency ? { idempotency: request.idempotency } : {}),
  });
}

const clientProcessors: { [N in ClientPaymentJobName]: (request: Requested<N>, context: LedgerContext) => Promise<Outcome> } = {
  'create-order': createOrderFor,
  capture,
  confirm: confirmWithGateway,
};

/** A client's request: answered from the ledger when it was before; a refusal is recorded like any answer. */
async function runClientJob(job: Job, name: ClientPaymentJobName): Promise<Outcome[]> {
  const request = job.data.requests[0] as Requested<ClientPaymentJobName>;
  const context: LedgerContext = { endpoint: ENDPOINTS[name], jobIdOf: (index) => formatJobRef({ queueName: job.queueName, jobId: job.id!, index }) };
  const earlier = request.idempotency ? await replayOfRequest(request.requestId, request.idempotency.requestHash) : await recordedOutcome(request.requestId);
  if (earlier) return [earlier];
  try {
    return [await (clientProcessors[name] as (r: typeof request, c: LedgerContext) => Promise<Outcome>)(request, context)];
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return [await inLedger(request, context, async () => refusalOf(error))];
  }
}

// ---- the system's work ------------------------------------------------------------------------

/** Confirms the bookings an order was made for with its captured payment (a webhook, a capture, the reconciler). */
async function settleForOrder(order: OrderRow, paymentId: string): Promise<Outcome> {
  const outcome = await confirmInPartition({
    requestId: `settle-${paymentId}`, actor: null, userId: order.user_id, bookingIds: order.booking_ids,
    payment: { mode: 'payment_gateway', paymentId, orderId: order.id },
  });
  logger.info({ orderId: order.id, paymentId, status: outcome.status }, 'order settled');
  return outcome;
}

/**
 * What Razorpay says was paid for an order (a webhook names the payment; the reconciler asks for
 * the order's payments): recorded once captured, and the order's bookings confirmed with it.
 */
async function settle({ orderId, paymentId }: PaymentJobs['settle']): Promise<object> {
  const order = await orderOf(orderId);
  if (!order) return { ignored: 'unknown order' };
  const expire = (olderThanMs: number) => db('payment_orders').where({ id: orderId, status: 'created' })
    .where('created_at', '<', new Date(Date.now() - olderThanMs)).update({ status: 'expired', updated_at: db.fn.now() });
  let reported: GatewayPayment[];
  try {
    reported = paymentId ? [await fetchKnownPayment(paymentId)] : await paymentsOfOrder(orderId);
  } catch (error) {
    // An order Razorpay does not know can never be paid: nobody needs to ask about it again.
    if (!paymentId && error instanceof GatewayError && !error.transient) {
      await expire(0);
      return { paid: false, known: false };
    }
    throw error;
  }
  const paid = reported.filter((p) => p.status === 'captured' || p.status === 'authorized');
  if (paid.length === 0) {
    if (!paymentId) await expire(ORDER_EXPIRES_AFTER_MS);
    return { paid: false };
  }
  if (order.booking_ids.length) await fence(order.booking_ids, order.user_id);
  const settled = [];
  for (const payment of paid) {
    try {
      await recordPayment(await verifiedPayment(payment, order), order);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      logger.warn({ orderId, paymentId: payment.id, err: error }, 'a payment Razorpay reported does not fit its order');
      continue;
    }
    settled.push(order.booking_ids.length ? (await settleForOrder(order, payment.id)).status : 'captured');
  }
  return { paid: true, settled };
}

async function refund({ refundId }: PaymentJobs['refund']): Promise<object> {
  const owed = await refundOf(refundId);
  if (!owed || owed.status === 'processed') return { refunded: false };
  const made = await refundOnce(owed.payment_id, owed.amount_paise, owed.receipt);
  await markRefunded(refundId, made.id);
  logger.info({ refundId, paymentId: owed.payment_id, razorpayRefundId: made.id, amount: owed.amount_paise }, 'refund made');
  return { refunded: true, razorpay_refund_id: made.id };
}

export async function processPaymentJob(job: Job): Promise<unknown> {
  const problem = paymentPayloadProblem(job.name, job.data);
  if (problem) throw new UnrecoverableError(`invalid ${job.name} job: ${problem}`);
  switch (job.name as keyof PaymentJobs) {
    case 'settle': return settle(job.data);
    case 'refund': return refund(job.data);
    default: return runClientJob(job, job.name as ClientPaymentJobName);
  }
}
