import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { db } from '../../src/db/knex';
import { routes } from '../../src/http/routes';
import { apiBaseUrl, tokenFor } from '../helpers/api';
import { bookingCafe, eventually, holdOrFail, useWorkers } from '../helpers/bookings';
import { allQueueNames, queue } from '../../src/jobs/queues';

// Invariant 8, property-based: random and mutated bodies, paths, query strings and headers sent to
// every route the routers know. Whatever arrives, the answer is never a 5xx and never a hang; an
// error is JSON `{ message, code }`; and a request that was refused changed no row. Bull Board's
// own API (/admin/queues) is left out: its actions are an admin's, tested in test/http.

const test = suite('bad input, property-based');
// A worker runs, so that a request that happens to be valid is answered rather than left queued;
// the database is compared only around refusals, each with the worker idle.
useWorkers(test, 1);

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const TIMEOUT_MS = 10_000;

/** Every route template of every router, with its methods: a new route is fuzzed without anyone listing it. */
function routeTemplates(): Array<{ method: string; path: string }> {
  const seen = new Map<string, { method: string; path: string }>();
  for (const router of routes) {
    for (const layer of router.stack) {
      const path = String(layer.path);
      if (path.startsWith('/admin/queues')) continue;
      for (const method of layer.methods.filter((m) => m !== 'HEAD')) seen.set(`${method} ${path}`, { method, path });
    }
  }
  return [...seen.values()];
}

const WRITTEN_TABLES = [
  'vendors', 'games', 'slots', 'slot_inventory', 'consoles', 'console_games', 'users', 'gaming_types', 'vendor_customers',
  'bookings', 'transactions', 'payment_orders', 'payments', 'refunds', 'wallets', 'wallet_ledger', 'promo_codes',
  'promo_redemptions', 'access_codes', 'webhook_events',
];
// Not compared: request_ledger (a refusal a job decided is recorded there, as every answer is) and
// outbox (rows of earlier accepted requests leave it a few milliseconds after their commit).

const ACTIVE_QUEUES = () => allQueueNames().filter((name) => name !== 'sweeper');

/** Waits until no job of an earlier accepted request is still queued or running. */
async function quiet(): Promise<void> {
  await eventually(async () => {
    const counts = await Promise.all(ACTIVE_QUEUES().map((name) => queue(name).getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    return counts.every((c) => Object.values(c).every((n) => n === 0));
  }, 'the queues to be idle', 20_000);
}

/** One checksum of every table a route writes. */
async function databaseState(): Promise<string> {
  const parts = await Promise.all(WRITTEN_TABLES.map(async (table) =>
    (await db.raw(`SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS sum FROM ${table} t`)).rows[0].sum as string));
  return WRITTEN_TABLES.map((table, i) => `${table}=${parts[i]}`).join(' ');
}

const STACK_TRACE = /\bat\s+\S+\s+\(|node_modules|\.ts:\d+|\.js:\d+/;

test('random and mutated requests to every route: never a 5xx or a hang; a refusal is JSON and writes nothing', async () => {
  const cafe = await bookingCafe();
  const [bookingId] = await holdOrFail(cafe, [cafe.slots[10].id]);
  const templates = routeTemplates();
  assert.ok(templates.length > 40, `found ${templates.length} routes`);
  const base = await apiBaseUrl();
  const statuses = new Map<number, number>();

  const known = [cafe.vendor.id, cafe.game.id, cafe.user.id, bookingId, cafe.slots[0].id];
  const segment = fc.oneof(
    fc.constantFrom(...known.map(String), `BK-${bookingId}`, '0', '-1', '1.5', '1e3', '0x10', '2147483648', '99999999999999999999',
      'abc', '', '%00', '%ZZ', '..', '20261345', '2026-02-30', '20261224', 'null', 'undefined', '__proto__', '😀', 'a'.repeat(300)),
    fc.string({ maxLength: 20 }).map(encodeURIComponent),
    fc.integer().map(String),
  );
  const queryKey = fc.constantFrom('date', 'status', 'limit', 'before', 'game_id', 'vendor_id', 'q', 'from', 'to', 't', 'x', '__proto__', 'constructor');
  const queryValue = fc.oneof(segment, fc.constant(''), fc.string({ maxLength: 10 }).map(encodeURIComponent));
  const query = fc.array(fc.tuple(queryKey, queryValue), { maxLength: 4 }).map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
  const fields = ['slot_id', 'game_id', 'user_id', 'book_date', 'booking_id', 'bookings', 'payment_mode', 'payment_id', 'amount', 'currency',
    'receipt', 'booking_ids', 'promo_code', 'code', 'name', 'phone', 'email', 'cafe_name', 'timezone', 'opening_days', 'game_name',
    'total_slots', 'single_slot_price', 'slots', 'start_time', 'end_time', 'status', 'reason', 'discount_type', 'discount_value',
    'is_pay_at_cafe', 'squad_details', 'razorpay_payment_id', 'razorpay_order_id', 'razorpay_signature', 'console_number'];
  const value = fc.oneof(
    fc.constantFrom(...known), fc.constantFrom(null, true, false, 0, -1, 1.5, 2147483648, 1e308, '', 'BK-1', '2026-12-24', '24:00', '25:00', [], {}),
    fc.string({ maxLength: 30 }), fc.integer(), fc.array(fc.integer({ min: -2, max: 3000 }), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }),
  );
  // Valid requests to the busiest routes, one field replaced or dropped: these reach the workers.
  const validCases: Array<{ method: string; path: string; body: Record<string, unknown> }> = [
    { method: 'POST', path: '/bookings', body: { slot_id: [cafe.slots[11].id], game_id: cafe.game.id, book_date: cafe.date } },
    { method: 'POST', path: '/bookings/confirm', body: { booking_id: [bookingId], payment_mode: 'wallet' } },
    { method: 'POST', path: '/create_order', body: { currency: 'INR', receipt: 'r1', booking_ids: [bookingId] } },
    { method: 'POST', path: '/release_slot', body: { bookings: { booking_id: bookingId } } },
    { method: 'PUT', path: `/bookings/${bookingId}`, body: { slot_id: cafe.slots[12].id, book_date: cafe.date } },
    { method: 'POST', path: `/vendors/${cafe.vendor.id}/games`, body: { game_name: 'G', total_slots: 2, single_slot_price: 100, slots: { open: '10:00', close: '24:00', minutes: 60 } } },
    { method: 'POST', path: '/promo-codes', body: { code: 'FUZZ1', discount_type: 'percent', discount_value: 10 } },
    { method: 'POST', path: `/users/${cafe.user.id}/wallet/credit`, body: { amount: 100, reason: 'fuzz' } },
    { method: 'POST', path: `/vendor/${cafe.vendor.id}/users`, body: { name: 'Walk In', phone: '+91 98000 00000' } },
  ];
  const nearValid = fc.tuple(fc.constantFrom(...validCases), fc.constantFrom(...fields), fc.option(value, { nil: undefined })).map(([valid, field, replacement]) => {
    const copy: Record<string, unknown> = { ...valid.body };
    const keys = Object.keys(copy);
    const key = keys.includes(field) ? field : keys[field.length % keys.length];
    if (replacement === undefined) delete copy[key];
    else copy[key] = replacement;
    return { route: { method: valid.method, path: valid.path }, raw: JSON.stringify(copy) };
  });
  const body = fc.oneof(

    fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 6 }).map((object) => ({ raw: JSON.stringify(object) })),
    fc.jsonValue({ maxDepth: 3 }).map((json) => ({ raw: JSON.stringify(json) })),
    fc.string({ maxLength: 50 }).map((text) => ({ raw: text })),
    fc.constant({ raw: undefined as string | undefined }),
  );
  const tokens = [tokenFor('admin', 1), cafe.token, tokenFor('vendor', cafe.user.id, cafe.vendor.id), tokenFor('user', 2147483647), 'garbage', ''];
  const headers = fc.record({
    auth: fc.constantFrom(...tokens),
    contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', ''),
    encoding: fc.constantFrom(undefined, undefined, undefined, 'gzip', 'br', 'identity', 'compress'),
    idempotencyKey: fc.option(fc.oneof(fc.string({ maxLength: 10 }), fc.constant('k'.repeat(300))), { nil: undefined }),
  });
  const randomRequest = fc.record({ route: fc.constantFrom(...templates), params: fc.array(segment, { minLength: 4, maxLength: 4 }), query, body, headers });
  const mutatedRequest = fc.record({ near: nearValid, query, headers }).map(({ near, query: q, headers: h }) => ({
    route: near.route, params: [] as string[], query: q, body: { raw: near.raw as string | undefined }, headers: { ...h, contentType: 'application/json', encoding: undefined },
  }));
  const request = fc.oneof(randomRequest, mutatedRequest);

  await fc.assert(fc.asyncProperty(request, async ({ route, params, query: search, body: { raw }, headers: h }) => {
    let index = 0;
    const path = route.path.replace(/:[A-Za-z_]+/g, () => params[index++ % params.length]); // mutated requests name no parameters
    const sent: Record<string, string> = { Prefer: 'respond-async' }; // a queued write answers 202 at once
    if (h.auth) sent.Authorization = `Bearer ${h.auth}`;
    if (raw !== undefined && h.contentType) sent['Content-Type'] = h.contentType;
    if (h.encoding) sent['Content-Encoding'] = h.encoding;
    if (h.idempotencyKey !== undefined) sent['Idempotency-Key'] = h.idempotencyKey.replace(/[\r\n]/g, '');
    await quiet();
    const before = await databaseState();
    const started = Date.now();
    let response: Response;
    try {
      response = await fetch(`${base}${path}${search}`, {
        method: route.method, headers: sent, body: route.method === 'GET' ? undefined : raw, signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      if (error instanceof TypeError && /header|url/i.test(String((error as Error & { cause?: unknown }).cause ?? error.message))) return; // fetch refused to send it
      throw new Error(`${route.method} ${path}${search}: no answer within ${TIMEOUT_MS} ms (${String(error)})`);
    }
    const text = await response.text();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    const what = `${route.method} ${path}${search} ${JSON.stringify(raw)?.slice(0, 200)} → ${response.status} ${text.slice(0, 200)} (${Date.now() - started} ms)`;
    assert.ok(response.status < 500, what);
    if (response.status < 400) return;
    let parsed: { message?: unknown; code?: unknown };
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`not JSON: ${what}`);
    }
    assert.ok(typeof parsed.message === 'string' && typeof parsed.code === 'string', what);
    assert.not.match(text, STACK_TRACE, what);
    assert.is(await databaseState(), before, `a refused request changed rows: ${what}`);
  }), { numRuns: RUNS, interruptAfterTimeLimit: 120_000, markInterruptAsFailure: false, verbose: 1 });
  const refused = [...statuses].filter(([status]) => status >= 400).reduce((sum, [, n]) => sum + n, 0);
  assert.ok(refused > RUNS / 2, `most random requests are refused: ${JSON.stringify([...statuses])}`);
  if (process.env.FUZZ_REPORT) console.log('statuses', JSON.stringify([...statuses].sort()));
});

test.run();
