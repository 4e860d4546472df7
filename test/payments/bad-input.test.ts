import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'crypto';
import { config } from '../../src/config';
import { db } from '../../src/db/knex';
import { adminToken, api } from '../helpers/api';
import { bookingCafe, holdOrFail, useWorkers } from '../helpers/bookings';

// Invariant 8 for the payment routes: every malformed order, capture, confirmation, promo and
// webhook is a clean 4xx JSON error, and no payment table changes.

const test = suite('payments bad input');
useWorkers(test, 1);

const TABLES = ['payment_orders', 'payments', 'transactions', 'wallets', 'wallet_ledger', 'promo_codes', 'promo_redemptions', 'webhook_events', 'refunds', 'access_codes'];
// The outbox's jobs (a webhook's settle, a refund): its socket events also come from holds of
// earlier tests that the sweeper releases meanwhile.
const counts = async () => Object.fromEntries(await Promise.all([
  ...TABLES.map(async (t) => [t, Number((await db(t).count('* as n'))[0].n)]),
  (async () => ['outbox jobs', Number((await db('outbox').where('topic', 'job').count('* as n'))[0].n)])(),
]));
const signed = (raw: string) => createHmac('sha256', config.razorpayWebhookSecret).update(raw).digest('hex');

test('orders, captures, confirmations, promos and webhooks of any bad shape are 4xx JSON and write nothing', async () => {
  const cafe = await bookingCafe();
  const ids = await holdOrFail(cafe, [cafe.slots[9].id]);
  const json = { 'content-type': 'application/json' };
  const webhookRaw = JSON.stringify({ event: 'payment.captured', payload: { payment: { entity: { id: 'pay_x' } } } });
  const cases: Array<{ label: string; method?: string; path: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; status: number; token?: string | null }> = [
    { label: 'order without amount or bookings', path: '/create_order', body: { currency: 'INR', receipt: 'r' }, status: 400 },
    { label: 'order amount float', path: '/create_order', body: { amount: 100.5, currency: 'INR', receipt: 'r' }, status: 400 },
    { label: 'order amount negative', path: '/create_order', body: { amount: -100, currency: 'INR', receipt: 'r' }, status: 400 },
    { label: 'order amount huge', path: '/create_order', body: { amount: 1e15, currency: 'INR', receipt: 'r' }, status: 400 },
    { label: 'order amount string', path: '/create_order', body: { amount: '50000', currency: 'INR', receipt: 'r' }, status: 400 },
    { label: 'order other currency', path: '/create_order', body: { amount: 50000, currency: 'USD', receipt: 'r' }, status: 400 },
    { label: 'order receipt too long', path: '/create_order', body: { amount: 50000, currency: 'INR', receipt: 'r'.repeat(41) }, status: 400 },
    { label: 'order promo without bookings', path: '/create_order', body: { amount: 50000, currency: 'INR', receipt: 'r', promo_code: 'X' }, status: 400 },
    { label: 'order unknown field', path: '/create_order', body: { amount: 50000, currency: 'INR', receipt: 'r', notes: {} }, status: 400 },
    { label: 'order for unknown bookings', path: '/create_order', body: { currency: 'INR', receipt: 'r', booking_ids: [2147480000] }, status: 404, token: cafe.token },
    { label: 'order without a token', path: '/create_order', body: { amount: 50000, currency: 'INR', receipt: 'r' }, status: 401, token: null },
    { label: 'capture missing signature', path: '/capture_payment', body: { razorpay_payment_id: 'pay_a', razorpay_order_id: 'order_b' }, status: 400 },
    { label: 'capture id injection', path: '/capture_payment', body: { razorpay_payment_id: "pay_a'--", razorpay_order_id: 'order_b', razorpay_signature: 'a'.repeat(64) }, status: 400 },
    { label: 'capture forged', path: '/capture_payment', body: { razorpay_payment_id: 'pay_a', razorpay_order_id: 'order_b', razorpay_signature: 'a'.repeat(64) }, status: 400 },
    { label: 'confirm gateway, signature without order', path: '/bookings/confirm', body: { booking_id: ids, payment_mode: 'payment_gateway', razorpay_payment_id: 'pay_a', razorpay_signature: 'a'.repeat(64) }, status: 400, token: cafe.token },
    { label: 'confirm two payment ids', path: '/bookings/confirm', body: { booking_id: ids, payment_mode: 'gateway', razorpay_payment_id: 'pay_a', payment_id: 'pay_b' }, status: 400, token: cafe.token },
    { label: 'confirm promo not a string', path: '/bookings/confirm', body: { booking_id: ids, payment_mode: 'wallet', promo_code: 5 }, status: 400, token: cafe.token },
    { label: 'promo percent over 100', path: '/promo-codes', body: { code: 'BIGBIG', discount_type: 'percent', discount_value: 150 }, status: 400 },
    { label: 'promo bad type', path: '/promo-codes', body: { code: 'BIGBIG', discount_type: 'free', discount_value: 10 }, status: 400 },
    { label: 'promo bad date', path: '/promo-codes', body: { code: 'BIGBIG', discount_type: 'flat', discount_value: 10, valid_from: '2026-02-30' }, status: 400 },
    { label: 'webhook unsigned', path: '/webhooks/razorpay', rawBody: webhookRaw, headers: { ...json, 'x-razorpay-event-id': 'evt_a' }, status: 400, token: null },
    { label: 'webhook without event id', path: '/webhooks/razorpay', rawBody: webhookRaw, headers: { ...json, 'x-razorpay-signature': signed(webhookRaw) }, status: 400, token: null },
    { label: 'webhook without an order', path: '/webhooks/razorpay', rawBody: webhookRaw, headers: { ...json, 'x-razorpay-signature': signed(webhookRaw), 'x-razorpay-event-id': 'evt_b' }, status: 400, token: null },
    { label: 'webhook not JSON', path: '/webhooks/razorpay', rawBody: 'event=paid', headers: { ...json, 'x-razorpay-signature': signed('event=paid'), 'x-razorpay-event-id': 'evt_c' }, status: 400, token: null },
  ];
  for (const c of cases) {
    const before = await counts();
    const token = c.token === null ? undefined : c.token ?? adminToken();
    const response = await api(c.method ?? 'POST', c.path, { token, body: c.body, rawBody: c.rawBody, headers: c.headers });
    assert.is(response.status, c.status, `${c.label}: ${JSON.stringify(response.body)}`);
    assert.type(response.body.code, 'string', c.label);
    assert.type(response.body.message, 'string', c.label);
    assert.equal(await counts(), before, `${c.label}: nothing written`);
  }
});

test.run();
