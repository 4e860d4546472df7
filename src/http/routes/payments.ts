import { randomUUID } from 'crypto';
import { AppContext, createRouter } from '../context';
import { requireUser } from '../auth';
import { bodyParser, bookingIdOf, bookingIdSchema, ignoredValueSchema } from '../validate';
import { AppError, Forbidden, Invalid, NotFound } from '../../errors';
import { db } from '../../db/knex';
import { findBookingFor } from '../../db/booking-views';
import { addToOutbox } from '../../db/outbox';
import { enqueueBookingJob, partitionForKey } from '../../jobs/booking';
import { settleJobId, submitPaymentJob } from '../../jobs/payments';
import { QUEUE_NAMES } from '../../jobs/queues';
import { checkoutSignatureValid, webhookSignatureValid } from '../../payments/razorpay';
import { relayAfterCommit } from '../../workers/relay';
import { actorOf, respondWithJob, runIdempotent } from '../job-response';
import { refuseUnofferedFeatures } from '../client-features';

// SPEC §5.3 (confirm) and §5.4: orders, captures, confirmations and Razorpay's webhooks. Every
// Razorpay call happens in a payment-verification job; a wallet confirmation needs none and goes
// straight to its bookings' partition.

export const paymentsRouter = createRouter();

class InvalidSignature extends AppError {
  constructor(what: string) {
    super(400, 'invalid_signature', `The ${what} signature does not match`);
  }
}

const razorpayId = (prefix: string) => ({ type: 'string', pattern: `^${prefix}_[A-Za-z0-9]{1,40}$` }) as const;
const signature = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const promoCode = { type: 'string', minLength: 1, maxLength: 64 } as const;
const bookingIdList = (max: number) => ({ type: 'array', items: bookingIdSchema, minItems: 1, maxItems: max, uniqueItems: true }) as const;

const MAX_ORDER_PAISE = 100_000_000; // ₹10,00,000: far beyond any cafe booking, far below overflow

const orderBody = bodyParser<{ amount?: number; currency: 'INR'; receipt: string; booking_ids?: Array<number | string>; promo_code?: string }>({
  type: 'object',
  properties: {
    amount: { type: 'integer', minimum: 100, maximum: MAX_ORDER_PAISE },
    currency: { type: 'string', enum: ['INR'] },
    receipt: { type: 'string', minLength: 1, maxLength: 40 },
    booking_ids: bookingIdList(100),
    promo_code: promoCode,
  },
  required: ['currency', 'receipt'],
  additionalProperties: false,
});

paymentsRouter.post('/create_order', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const body = orderBody(ctx.request.body);
  if (!body.booking_ids && body.amount === undefined) throw new Invalid('amount is required without booking_ids');
  if (!body.booking_ids && body.promo_code) throw new Invalid('promo_code needs booking_ids: the server prices the order');
  const what = {
    currency: body.currency, receipt: body.receipt,
    ...(body.amount !== undefined ? { amountPaise: body.amount } : {}),
    ...(body.booking_ids ? { bookingIds: body.booking_ids.map(bookingIdOf) } : {}),
    ...(body.promo_code ? { promoCode: body.promo_code } : {}),
  };
  await runIdempotent(ctx, 'POST /create_order', user.id, what, (requestId, idempotency) => submitPaymentJob('create-order', {
    requestId, httpRequestId: ctx.state.requestId, actor: actorOf(user), ...what, ...(idempotency ? { idempotency } : {}),
  }));
});

const captureBody = bodyParser<{ razorpay_payment_id: string; razorpay_order_id: string; razorpay_signature: string }>({
  type: 'object',
  properties: { razorpay_payment_id: razorpayId('pay'), razorpay_order_id: razorpayId('order'), razorpay_signature: signature },
  required: ['razorpay_payment_id', 'razorpay_order_id', 'razorpay_signature'],
  additionalProperties: false,
});

paymentsRouter.post('/capture_payment', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const body = captureBody(ctx.request.body);
  if (!checkoutSignatureValid(body.razorpay_order_id, body.razorpay_payment_id, body.razorpay_signature)) throw new InvalidSignature('checkout');
  await respondWithJob(ctx, await submitPaymentJob('capture', {
    requestId: randomUUID(), httpRequestId: ctx.state.requestId, actor: actorOf(user),
    paymentId: body.razorpay_payment_id, orderId: body.razorpay_order_id,
  }));
});

interface ConfirmBody {
  booking_id: number | string | Array<number | string>;
  payment_mode: 'payment_gateway' | 'gateway' | 'wallet';
  razorpay_order_id?: string;
  razorpay_payment_id?: string;
  razorpay_signature?: string;
  payment_id?: string;
  promo_code?: string;
  book_date?: unknown;
}
const confirmBody = bodyParser<ConfirmBody>({
  type: 'object',
  properties: {
    booking_id: { anyOf: [bookingIdSchema, bookingIdList(100)] },
    payment_mode: { type: 'string', enum: ['payment_gateway', 'gateway', 'wallet'] },
    razorpay_order_id: razorpayId('order'),
    razorpay_payment_id: razorpayId('pay'),
    razorpay_signature: signature,
    // The app's name for the Razorpay payment id, or `WALLET_<ms>` for a wallet payment (ignored).
    payment_id: { type: 'string', minLength: 1, maxLength: 64 },
    promo_code: promoCode,
    // Sent by the app; the booking decides its date.
    book_date: ignoredValueSchema,
  },
  required: ['booking_id', 'payment_mode'],
  additionalProperties: false,
});

/** The Razorpay payment a gateway confirmation names, its signature checked when the checkout's response is given. */
function gatewayPaymentOf(body: ConfirmBody): { paymentId: string; orderId?: string } {
  const paymentId = body.razorpay_payment_id ?? body.payment_id;
  if (!paymentId) throw new Invalid('A gateway confirmation needs razorpay_payment_id (or payment_id)');
  if (!/^pay_[A-Za-z0-9]{1,40}$/.test(paymentId)) throw new Invalid('payment_id must be a Razorpay payment id (pay_…)');
  if (body.razorpay_payment_id && body.payment_id && body.razorpay_payment_id !== body.payment_id) {
    throw new Invalid('razorpay_payment_id and payment_id name different payments');
  }
  if (body.razorpay_signature) {
    if (!body.razorpay_order_id) throw new Invalid('razorpay_signature needs razorpay_order_id');
    if (!checkoutSignatureValid(body.razorpay_order_id, paymentId, body.razorpay_signature)) throw new InvalidSignature('checkout');
  }
  return { paymentId, ...(body.razorpay_order_id ? { orderId: body.razorpay_order_id } : {}) };
}

async function confirmHandler(ctx: AppContext): Promise<void> {
  const user = requireUser(ctx.state.user);
  refuseUnofferedFeatures(ctx.request.body);
  const body = confirmBody(ctx.request.body);
  const wallet = body.payment_mode === 'wallet';
  if (wallet && (body.razorpay_order_id || body.razorpay_payment_id || body.razorpay_signature)) {
    throw new Invalid('Razorpay fields belong to payment_mode "payment_gateway"');
  }
  const gateway = wallet ? null : gatewayPaymentOf(body);
  const bookingIds = [...new Set((Array.isArray(body.booking_id) ? body.booking_id : [body.booking_id]).map(bookingIdOf))];
  const actor = actorOf(user);
  const first = await findBookingFor(actor, bookingIds[0]);
  if (!first) throw new NotFound('Booking');
  // A cafe may confirm for its customer, but only the customer (or an admin) spends their wallet.
  if (wallet && actor.role === 'vendor' && first.user_id !== actor.userId) throw new Forbidden('A cafe cannot pay from a customer\'s wallet');
  const what = { bookingIds, mode: wallet ? 'wallet' : 'payment_gateway', ...(gateway ?? {}), ...(body.promo_code ? { promoCode: body.promo_code } : {}) };
  const common = { httpRequestId: ctx.state.requestId, actor, userId: first.user_id, bookingIds, ...(body.promo_code ? { promoCode: body.promo_code } : {}) };
  await runIdempotent(ctx, 'POST /bookings/confirm', user.id, what, (requestId, idempotency) => {
    const keyed = idempotency ? { idempotency } : {};
    return gateway
      ? submitPaymentJob('confirm', { requestId, ...common, ...gateway, ...keyed })
      : enqueueBookingJob('confirm', partitionForKey(first.game_id, first.book_date), { requestId, ...common, payment: { mode: 'wallet' }, ...keyed });
  });
}
paymentsRouter.post('/bookings/confirm', confirmHandler);
paymentsRouter.post('/confirm/bookings', confirmHandler);

// ---- Razorpay's webhooks -------------------------------------------------------------------

interface WebhookEvent {
  event?: unknown;
  payload?: { payment?: { entity?: { id?: unknown; order_id?: unknown } }; order?: { entity?: { id?: unknown } } };
}

/** The order and payment a settling event names, or null for events this service does not act on. */
function paymentNamed(event: WebhookEvent): { orderId: string; paymentId: string } | null {
  if (event.event !== 'payment.captured' && event.event !== 'order.paid') return null;
  const payment = event.payload?.payment?.entity;
  const orderId = event.payload?.order?.entity?.id ?? payment?.order_id;
  const paymentId = payment?.id;
  if (typeof orderId !== 'string' || typeof paymentId !== 'string' || !/^order_\w{1,40}$/.test(orderId) || !/^pay_\w{1,40}$/.test(paymentId)) {
    throw new Invalid('The event does not name an order and a payment');
  }
  return { orderId, paymentId };
}

paymentsRouter.post('/webhooks/razorpay', async (ctx) => {
  const raw = (ctx.request as { rawBody?: string }).rawBody ?? '';
  const given = ctx.get('X-Razorpay-Signature');
  if (!given || !webhookSignatureValid(raw, given)) throw new InvalidSignature('webhook');
  const eventId = ctx.get('X-Razorpay-Event-Id');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(eventId)) throw new Invalid('X-Razorpay-Event-Id is missing or malformed');
  const event = ctx.request.body as WebhookEvent;
  const named = paymentNamed(event);
  // The delivery is recorded with the work it implies, in one transaction: a duplicate changes
  // nothing, and a delivery recorded is never lost (the outbox adds its job to the queue).
  const outbound = await db.transaction(async (trx) => {
    const fresh = await trx('webhook_events').insert({ event_id: eventId, event: String(event.event ?? '') }).onConflict('event_id').ignore().returning('event_id');
    if (fresh.length === 0) return null;
    return addToOutbox(trx, [], named ? [{
      queue: QUEUE_NAMES.paymentVerification, name: 'settle', data: named, jobId: settleJobId(named.orderId, named.paymentId),
    }] : []);
  });
  if (outbound) relayAfterCommit(outbound);
  ctx.body = { status: outbound ? (named ? 'accepted' : 'ignored') : 'duplicate' };
});
