// A small Razorpay look-alike for tests and the local demo (there is no internet here): the part of
// Razorpay's REST API this service calls (orders, an order's payments, payments, capture, refunds,
// HTTP Basic with the key pair), plus what Razorpay's checkout and webhooks do on the other side:
// `pay` an order as the checkout would (answering the signed checkout response) and deliver signed
// webhooks. Switches make it answer 500 or never answer, to test retries. The service reaches it
// only through the official `razorpay` SDK (RAZORPAY_API_BASE); nothing mocks the SDK.
//
// `tsx scripts/fake-razorpay.ts` runs it on RAZORPAY_FAKE_PORT (default 4010), taking the key pair and
// webhook secret from the environment; its control routes are under /_fake (see `control` below).
import { createHmac, randomBytes, timingSafeEqual } from 'crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';

export interface FakeRazorpayOptions {
  keyId: string;
  keySecret: string;
  webhookSecret: string;
  port?: number;
}

interface Order {
  id: string; entity: 'order'; amount: number; amount_paid: number; amount_due: number; currency: string;
  receipt: string | null; status: 'created' | 'attempted' | 'paid'; attempts: number; notes: Record<string, unknown>; created_at: number;
}

interface Payment {
  id: string; entity: 'payment'; amount: number; currency: string; status: 'authorized' | 'captured' | 'refunded';
  order_id: string; method: string; captured: boolean; amount_refunded: number; refund_status: 'partial' | 'full' | null; created_at: number;
}

interface Refund {
  id: string; entity: 'refund'; amount: number; currency: string; payment_id: string; receipt: string | null;
  notes: Record<string, unknown>; status: 'processed'; created_at: number;
}

/** What a checkout hands the app after a payment: what POST /capture_payment and confirm receive. */
export interface CheckoutResponse {
  razorpay_payment_id: string;
  razorpay_order_id: string;
  razorpay_signature: string;
}

export type Failure = { mode: 'error500' | 'timeout'; remaining: number } | null;

export interface FakeRazorpay {
  /** The base URL to give RAZORPAY_API_BASE (no /v1). */
  url: string;
  port: number;
  orders: Map<string, Order>;
  payments: Map<string, Payment>;
  /** Pays an order as the checkout would: authorized, or captured too (`capture`), for `amount` (default the order's). */
  pay(orderId: string, options?: { capture?: boolean; amount?: number }): CheckoutResponse;
  /** Delivers a signed webhook for a payment to `url`; resolves with the HTTP status the service answered. */
  deliverWebhook(url: string, event: 'payment.captured' | 'order.paid', paymentId: string, eventId?: string): Promise<number>;
  /** The next `times` API calls answer 500, or never answer; null clears. */
  fail(mode: 'error500' | 'timeout' | null, times?: number): void;
  /** API calls received, newest last (method and path). */
  calls: Array<{ method: string; path: string }>;
  close(): Promise<void>;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const entityId = (prefix: string) => `${prefix}_${randomBytes(7).toString('base64url').replace(/[-_]/g, 'x')}`;
const hmac = (secret: string, text: string) => createHmac('sha256', secret).update(text).digest('hex');

class HttpError extends Error {
  constructor(readonly status: number, readonly description: string, readonly code = 'BAD_REQUEST_ERROR') {
    super(description);
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 100) throw new HttpError(400, `${name} must be an integer of at least 100 (paise)`);
  return value;
}

export async function startFakeRazorpay(options: FakeRazorpayOptions): Promise<FakeRazorpay> {
  const orders = new Map<string, Order>();
  const payments = new Map<string, Payment>();
  const refunds = new Map<string, Refund>();
  const refundsByKey = new Map<string, { refundId: string; body: string }>();
  const calls: FakeRazorpay['calls'] = [];
  const hanging = new Set<ServerResponse>();
  let failure: Failure = null;
  const expectedAuth = Buffer.from(`Basic ${Buffer.from(`${options.keyId}:${options.keySecret}`).toString('base64')}`);

  function authorized(request: IncomingMessage): boolean {
    const given = Buffer.from(request.headers.authorization ?? '');
    return given.length === expectedAuth.length && timingSafeEqual(given, expectedAuth);
  }

  const find = <T>(map: Map<string, T>, id: string, what: string): T => {
    const found = map.get(id);
    if (!found) throw new HttpError(400, `The id provided does not exist: ${what} ${id}`);
    return found;
  };
  const collection = <T>(items: T[]) => ({ entity: 'collection', count: items.length, items });

  /** The REST API: /v1/… as the SDK calls it. */
  function api(method: string, path: string, body: any, headers: IncomingMessage['headers'] = {}): unknown {
    let match: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/orders') {
      const order: Order = {
        id: entityId('order'), entity: 'order', amount: positiveInteger(body.amount, 'amount'), amount_paid: 0, amount_due: body.amount,
        currency: typeof body.currency === 'string' ? body.currency : 'INR', receipt: body.receipt ?? null, status: 'created', attempts: 0,
        notes: body.notes ?? {}, created_at: nowSeconds(),
      };
      orders.set(order.id, order);
      return order;
    }
    if (method === 'GET' && (match = /^\/v1\/orders\/([^/]+)$/.exec(path))) return find(orders, match[1], 'order');
    if (method === 'GET' && (match = /^\/v1\/orders\/([^/]+)\/payments$/.exec(path))) {
      find(orders, match[1], 'order');
      return collection([...payments.values()].filter((p) => p.order_id === match![1]));
    }
    if (method === 'GET' && (match = /^\/v1\/payments\/([^/]+)$/.exec(path))) return find(payments, match[1], 'payment');
    if (method === 'POST' && (match = /^\/v1\/payments\/([^/]+)\/capture$/.exec(path))) {
      const payment = find(payments, match[1], 'payment');
      if (payment.status !== 'authorized') throw new HttpError(400, 'This payment has already been captured');
      if (body.amount !== payment.amount) throw new HttpError(400, 'Capture amount must be equal to the amount authorized');
      payment.status = 'captured';
      payment.captured = true;
      return payment;
    }
    if (method === 'POST' && (match = /^\/v1\/payments\/([^/]+)\/refund$/.exec(path))) {
      const payment = find(payments, match[1], 'payment');
      // Razorpay's idempotent refunds: the same X-Refund-Idempotency key and body is the same refund.
      const key = headers['x-refund-idempotency'];
      const idempotent = typeof key === 'string' ? refundsByKey.get(key) : undefined;
      if (idempotent) {
        if (idempotent.body !== JSON.stringify(body)) throw new HttpError(400, 'Different request with the same idempotency key has already been processed.');
        return refunds.get(idempotent.refundId);
      }
      if (!payment.captured) throw new HttpError(400, 'The payment has not been captured');
      const amount = body.amount === undefined ? payment.amount - payment.amount_refunded : positiveInteger(body.amount, 'amount');
      if (amount <= 0 || payment.amount_refunded + amount > payment.amount) throw new HttpError(400, 'The refund amount exceeds the amount captured');
      const refund: Refund = {
        id: entityId('rfnd'), entity: 'refund', amount, currency: payment.currency, payment_id: payment.id,
        receipt: body.receipt ?? null, notes: body.notes ?? {}, status: 'processed', created_at: nowSeconds(),
      };
      refunds.set(refund.id, refund);
      if (typeof key === 'string') refundsByKey.set(key, { refundId: refund.id, body: JSON.stringify(body) });
      payment.amount_refunded += amount;
      payment.refund_status = payment.amount_refunded === payment.amount ? 'full' : 'partial';
      if (payment.refund_status === 'full') payment.status = 'refunded';
      return refund;
    }
    if (method === 'GET' && (match = /^\/v1\/payments\/([^/]+)\/refunds$/.exec(path))) {
      find(payments, match[1], 'payment');
      return collection([...refunds.values()].filter((r) => r.payment_id === match![1]));
    }
    throw new HttpError(404, `The requested URL was not found on the server: ${method} ${path}`, 'NOT_FOUND');
  }

  function pay(orderId: string, { capture = false, amount }: { capture?: boolean; amount?: number } = {}): CheckoutResponse {
    const order = orders.get(orderId);
    if (!order) throw new Error(`no order ${orderId}`);
    const payment: Payment = {
      id: entityId('pay'), entity: 'payment', amount: amount ?? order.amount, currency: order.currency,
      status: capture ? 'captured' : 'authorized', order_id: order.id, method: 'card', captured: capture,
      amount_refunded: 0, refund_status: null, created_at: nowSeconds(),
    };
    payments.set(payment.id, payment);
    order.attempts += 1;
    order.status = 'paid';
    order.amount_paid = payment.amount;
    order.amount_due = Math.max(0, order.amount - payment.amount);
    return { razorpay_payment_id: payment.id, razorpay_order_id: order.id, razorpay_signature: hmac(options.keySecret, `${order.id}|${payment.id}`) };
  }

  async function deliverWebhook(url: string, event: 'payment.captured' | 'order.paid', paymentId: string, eventId = entityId('evt')): Promise<number> {
    const payment = payments.get(paymentId);
    if (!payment) throw new Error(`no payment ${paymentId}`);
    const order = orders.get(payment.order_id)!;
    const body = JSON.stringify({
      entity: 'event', account_id: 'acc_fake', event, contains: event === 'order.paid' ? ['payment', 'order'] : ['payment'],
      payload: { payment: { entity: payment }, ...(event === 'order.paid' ? { order: { entity: order } } : {}) }, created_at: nowSeconds(),
    });
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-razorpay-signature': hmac(options.webhookSecret, body), 'x-razorpay-event-id': eventId },
      body,
    });
    await response.arrayBuffer();
    return response.status;
  }

  /**
   * Control routes for the demo (`npm run pay`) and for tests in other processes: pay an order,
   * deliver a payment's signed webhook, switch failures.
   */
  async function control(method: string, path: string, body: any): Promise<unknown> {
    let match: RegExpExecArray | null;
    if (method === 'POST' && (match = /^\/_fake\/orders\/([^/]+)\/pay$/.exec(path))) {
      if (!orders.has(match[1])) throw new HttpError(404, `no order ${match[1]}`);
      return pay(match[1], { capture: body.capture === true, amount: typeof body.amount === 'number' ? body.amount : undefined });
    }
    // `{ url, event?, event_id? }`: the webhook secret stays with the fake, so a caller needs none.
    if (method === 'POST' && (match = /^\/_fake\/payments\/([^/]+)\/webhook$/.exec(path))) {
      if (!payments.has(match[1])) throw new HttpError(404, `no payment ${match[1]}`);
      if (typeof body.url !== 'string') throw new HttpError(400, 'url (where to deliver the webhook) is required');
      const event = body.event ?? 'payment.captured';
      if (event !== 'payment.captured' && event !== 'order.paid') throw new HttpError(400, 'event must be payment.captured or order.paid');
      try {
        return { status: await deliverWebhook(body.url, event, match[1], typeof body.event_id === 'string' ? body.event_id : undefined) };
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new HttpError(502, `could not deliver the webhook to ${body.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, 'DELIVERY_FAILED');
      }
    }
    if (method === 'POST' && path === '/_fake/fail') {
      failure = body.mode ? { mode: body.mode, remaining: typeof body.times === 'number' ? body.times : 1 } : null;
      return { failure };
    }
    throw new HttpError(404, `no control route ${method} ${path}`, 'NOT_FOUND');
  }

  const server: Server = createServer(async (request, response) => {
    const reply = (status: number, payload: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(payload));
    };
    try {
      const path = new URL(request.url ?? '/', 'http://fake').pathname;
      const text = await readBody(request);
      let body: any = {};
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new HttpError(400, 'The request body is not valid JSON');
        }
      }
      if (path.startsWith('/_fake/')) return reply(200, await control(request.method ?? 'GET', path, body));
      calls.push({ method: request.method ?? 'GET', path });
      if (failure && failure.remaining > 0) {
        failure.remaining -= 1;
        const { mode } = failure;
        if (failure.remaining === 0) failure = null;
        if (mode === 'timeout') {
          hanging.add(response);
          return;
        }
        return reply(500, { error: { code: 'SERVER_ERROR', description: 'The server encountered an error' } });
      }
      if (!authorized(request)) throw new HttpError(401, 'Authentication failed');
      reply(200, api(request.method ?? 'GET', path, body, request.headers));
    } catch (error) {
      const known = error instanceof HttpError ? error : new HttpError(500, 'The server encountered an error', 'SERVER_ERROR');
      reply(known.status, { error: { code: known.code, description: known.description, source: 'NA', step: 'NA', reason: 'NA', metadata: {} } });
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    orders,
    payments,
    pay,
    deliverWebhook,
    fail(mode, times = 1) {
      failure = mode ? { mode, remaining: times } : null;
    },
    calls,
    close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

if (require.main === module) {
  const need = (name: string) => process.env[name] ?? (() => { throw new Error(`${name} is required`); })();
  startFakeRazorpay({
    keyId: need('RAZORPAY_KEY_ID'),
    keySecret: need('RAZORPAY_KEY_SECRET'),
    webhookSecret: need('RAZORPAY_WEBHOOK_SECRET'),
    port: Number(process.env.RAZORPAY_FAKE_PORT ?? 4010),
  }).then((fake) => {
    process.stdout.write(`fake Razorpay listening on ${fake.url}\n`);
    const stop = () => void fake.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  }, (error) => {
    process.stderr.write(`fake Razorpay failed to start: ${error.message}\n`);
    process.exit(1);
  });
}
