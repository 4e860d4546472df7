import { randomUUID } from 'crypto';
import { JobsOptions } from 'bullmq';
import Ajv from 'ajv';
import { config } from '../config';
import { Actor, IdempotencyRef } from '../domain/booking-types';
import { requireRedisReady } from './connection';
import { JobEnd, jobWaiter } from './job-waiter';
import { QUEUE_NAMES, queue } from './queues';
import { Submitted } from './booking';

// The payment-verification queue (SPEC §2): everything that talks to Razorpay, which is slow
// network I/O and so never runs inside a booking partition. A verified payment is handed to the
// booking partition of its bookings as a `confirm` job. Client requests (create-order, capture,
// confirm) carry one request each, in the booking jobs' `requests` shape, so the request ledger,
// Idempotency-Key and GET /jobs/:id treat them alike; the system's work (a webhook, the
// reconciler, a refund) has no caller and is idempotent by its job id and conditional updates.

interface ClientRequest {
  requestId: string;
  httpRequestId?: string;
  actor: Actor;
  idempotency?: IdempotencyRef;
}

export interface CreateOrderRequest extends ClientRequest {
  amountPaise?: number;
  currency: string;
  receipt: string;
  bookingIds?: number[];
  promoCode?: string;
}

export interface CaptureRequest extends ClientRequest {
  paymentId: string;
  orderId: string;
}

export interface GatewayConfirmRequest extends ClientRequest {
  /** Whose bookings (the caller, or the customer a cafe or an admin confirms for). */
  userId: number;
  bookingIds: number[];
  paymentId: string;
  orderId?: string;
  promoCode?: string;
}

export interface PaymentJobs {
  'create-order': { requests: [CreateOrderRequest] };
  capture: { requests: [CaptureRequest] };
  confirm: { requests: [GatewayConfirmRequest] };
  /** A payment Razorpay told us about (a webhook), or an order to ask about (the reconciler). */
  settle: { orderId: string; paymentId?: string };
  refund: { refundId: number };
}
export type PaymentJobName = keyof PaymentJobs;
export type ClientPaymentJobName = 'create-order' | 'capture' | 'confirm';

export const paymentJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 250 },
  removeOnComplete: { age: 3600, count: 100_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

// ---- payload schemas: the worker refuses a job whose data does not match -------------------

const id = { type: 'integer', minimum: 1, maximum: 2147483647 } as const;
const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const;
const client = {
  requestId: text(100),
  httpRequestId: { type: 'string', maxLength: 100 },
  actor: {
    type: 'object',
    properties: { userId: id, role: { type: 'string', enum: ['user', 'vendor', 'admin'] }, vendorId: { ...id, nullable: true } },
    required: ['userId', 'role', 'vendorId'],
    additionalProperties: false,
  },
  idempotency: {
    type: 'object',
    properties: { endpoint: { type: 'string' }, key: { type: 'string' }, requestHash: { type: 'string' } },
    required: ['endpoint', 'key', 'requestHash'],
    additionalProperties: false,
  },
};
const one = (properties: object, required: string[]) => ({
  type: 'object',
  properties: {
    requests: {
      type: 'array', minItems: 1, maxItems: 1,
      items: { type: 'object', properties: { ...client, ...properties }, required: ['requestId', 'actor', ...required], additionalProperties: false },
    },
  },
  required: ['requests'],
  additionalProperties: false,
});
const bookingIds = { type: 'array', minItems: 1, maxItems: 100, items: id } as const;

const schemas: Record<PaymentJobName, object> = {
  'create-order': one({ amountPaise: id, currency: { type: 'string', enum: ['INR'] }, receipt: text(40), bookingIds, promoCode: text(64) }, ['currency', 'receipt']),
  capture: one({ paymentId: text(64), orderId: text(64) }, ['paymentId', 'orderId']),
  confirm: one({ userId: id, bookingIds, paymentId: text(64), orderId: text(64), promoCode: text(64) }, ['userId', 'bookingIds', 'paymentId']),
  settle: { type: 'object', properties: { orderId: text(64), paymentId: text(64) }, required: ['orderId'], additionalProperties: false },
  refund: { type: 'object', properties: { refundId: id }, required: ['refundId'], additionalProperties: false },
};

const ajv = new Ajv({ allErrors: true, strict: true });
const validators = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, ajv.compile(schema)]));

export function paymentPayloadProblem(name: string, data: unknown): string | null {
  const validate = validators[name];
  if (!validate) return `unknown payment-verification job "${name}"`;
  return validate(data) ? null : ajv.errorsText(validate.errors);
}

// ---- enqueueing -----------------------------------------------------------------------------

const paymentQueue = () => queue(QUEUE_NAMES.paymentVerification);

/** A client's payment request, one job, listened for before it is added. */
export async function submitPaymentJob<N extends ClientPaymentJobName>(name: N, request: PaymentJobs[N]['requests'][0]): Promise<Submitted> {
  await requireRedisReady();
  const jobId = randomUUID();
  const done: Promise<JobEnd | null> = jobWaiter.wait(QUEUE_NAMES.paymentVerification, jobId, config.syncWaitMs + 1000);
  await paymentQueue().add(name, { requests: [request] }, { ...paymentJobOptions, jobId });
  return { ref: { queueName: QUEUE_NAMES.paymentVerification, jobId, index: 0 }, done };
}

/** The system's settling of one order's payment: one job per order and payment at a time, however many webhooks and reconciler passes ask. */
export function settleJobId(orderId: string, paymentId?: string): string {
  return `settle-${orderId}-${paymentId ?? 'any'}`;
}
