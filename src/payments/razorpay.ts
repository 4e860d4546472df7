import Razorpay from 'razorpay';
import { createHmac, timingSafeEqual } from 'crypto';
import { AsyncLocalStorage } from 'async_hooks';
import { config } from '../config';

// The Razorpay gateway adapter: nothing else in the service knows Razorpay. Every call goes through
// the official SDK, pointed at RAZORPAY_API_BASE (the SDK hard-codes its host; its axios instance
// is `api.rq`), with a timeout (RAZORPAY_TIMEOUT_MS), and every failure becomes a GatewayError that says whether trying
// again may help (a 5xx, a timeout, a connection refused) or not (Razorpay refused the request).

export interface GatewayOrder {
  id: string;
  amount: number;
  currency: string;
  receipt: string | null;
  status: string;
}

export interface GatewayPayment {
  id: string;
  order_id: string;
  amount: number;
  currency: string;
  status: string;
  captured: boolean;
  amount_refunded: number;
}

export interface GatewayRefund {
  id: string;
  payment_id: string;
  amount: number;
  receipt: string | null;
  status: string;
}

export class GatewayError extends Error {
  constructor(message: string, readonly transient: boolean, readonly status: number | null) {
    super(message);
  }
}

/** The SDK rejects with `{ statusCode, error }` for an HTTP error, and with a TypeError (it reads `err.response.status`) when there was no response. */
function gatewayError(error: any): GatewayError {
  const status: number | null = typeof error?.statusCode === 'number' ? error.statusCode : null;
  if (status !== null) {
    const description = error.error?.description ?? 'Razorpay refused the request';
    return new GatewayError(`Razorpay ${status}: ${description}`, status >= 500 || status === 429, status);
  }
  return new GatewayError(`Razorpay unreachable: ${error?.message ?? String(error)}`, true, null);
}

async function call<T>(request: () => Promise<unknown>): Promise<T> {
  try {
    return (await request()) as T;
  } catch (error) {
    throw gatewayError(error);
  }
}

interface SdkHttp {
  defaults: { baseURL?: string; timeout?: number };
  interceptors: { request: { use(change: (request: { headers?: Record<string, string> }) => unknown): void } };
}

let client: Razorpay | null = null;
const callHeaders = new AsyncLocalStorage<Record<string, string>>();

function sdk(): Razorpay {
  if (!client) {
    client = new Razorpay({ key_id: config.razorpayKeyId, key_secret: config.razorpayKeySecret });
    const http = (client as unknown as { api: { rq: SdkHttp } }).api.rq;
    http.defaults.baseURL = config.razorpayApiBase;
    http.defaults.timeout = config.razorpayTimeoutMs;
    // The SDK's methods take no per-call headers: the ones a call needs ride on its async context.
    http.interceptors.request.use((request) => {
      const extra = callHeaders.getStore();
      if (extra) request.headers = Object.assign(request.headers ?? {}, extra);
      return request;
    });
  }
  return client;
}

export function createOrder(input: { amount: number; currency: string; receipt: string; notes?: Record<string, string> }): Promise<GatewayOrder> {
  return call(() => sdk().orders.create(input));
}

export function fetchPayment(paymentId: string): Promise<GatewayPayment> {
  return call(() => sdk().payments.fetch(paymentId));
}

export async function paymentsOfOrder(orderId: string): Promise<GatewayPayment[]> {
  const { items } = await call<{ items: GatewayPayment[] }>(() => sdk().orders.fetchPayments(orderId));
  return items;
}

export function capturePayment(paymentId: string, amount: number, currency: string): Promise<GatewayPayment> {
  return call(() => sdk().payments.capture(paymentId, amount, currency));
}

/**
 * Refunds a captured payment once per `receipt`, which is also the refund's idempotency key
 * (Razorpay's X-Refund-Idempotency): an attempt that timed out, or one still in flight when it is
 * retried, is the same refund at Razorpay, never a second one.
 */
export function refundOnce(paymentId: string, amount: number, receipt: string): Promise<GatewayRefund> {
  return callHeaders.run({ 'X-Refund-Idempotency': receipt }, () => call(() => sdk().payments.refund(paymentId, { amount, receipt })));
}

function sameHex(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The checkout's signature: HMAC-SHA256 of `order_id|payment_id` with the key secret. */
export function checkoutSignatureValid(orderId: string, paymentId: string, signature: string): boolean {
  return sameHex(createHmac('sha256', config.razorpayKeySecret).update(`${orderId}|${paymentId}`).digest('hex'), signature);
}

/** A webhook's X-Razorpay-Signature: HMAC-SHA256 of the raw body with the webhook secret. */
export function webhookSignatureValid(rawBody: Buffer | string, signature: string): boolean {
  return sameHex(createHmac('sha256', config.razorpayWebhookSecret).update(rawBody).digest('hex'), signature);
}
