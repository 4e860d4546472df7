import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, IncomingMessage, request as httpRequest, Server } from 'http';
import { AddressInfo } from 'net';
import { db } from '../../src/db/knex';
import { sweepExpiredHolds } from '../../src/workers/sweeper';
import { reconcilePayments } from '../../src/workers/reconciler';
import { api } from '../helpers/api';
import { assertInventoryMatches, bookingCafe, eventually, holdOrFail, makeCustomer, useWorkers } from '../helpers/bookings';
import { amountOrder, confirm, credit, expireHolds, gatewayBody, orderFor, pay, statusesOf } from '../helpers/payments';
import { fakeRazorpay } from '../helpers/razorpay';

// Races a review found in the payments work, kept as regressions, against real worker processes
// and the fake Razorpay. The workers reach Razorpay through a small proxy in front of the fake,
// which can hold one request for a while before forwarding it (Razorpay being slow: the request
// is made, the answer comes after the service timed out).

const test = suite('slow razorpay and late races');

// ---- a delaying proxy in front of the fake Razorpay -------------------------------------------

interface DelayRule { method: string; path: RegExp; delayMs: number; times: number }
const rules: DelayRule[] = [];
let proxy: Server | null = null;
const workerEnv: Record<string, string> = {};

function readAll(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

test.before(async () => {
  const upstream = new URL(fakeRazorpay().url);
  proxy = createServer(async (req, res) => {
    const body = await readAll(req);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const rule = rules.find((r) => r.times > 0 && r.method === req.method && r.path.test(path));
    if (rule) {
      rule.times -= 1;
      await new Promise((resolve) => setTimeout(resolve, rule.delayMs));
    }
    // Forwarded whether or not the caller still waits: Razorpay does the work it was sent.
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.on('error', () => undefined);
      try {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      } catch { up.resume(); }
    });
    out.on('error', () => { try { res.writeHead(502); res.end(); } catch { /* gone */ } });
    out.end(body);
  });
  await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
  workerEnv.RAZORPAY_API_BASE = `http://127.0.0.1:${(proxy!.address() as AddressInfo).port}`;
});

// Registered after the proxy's hook, so the workers start with RAZORPAY_API_BASE = the proxy.
useWorkers(test, 2, workerEnv);

test.after(async () => {
  proxy?.closeAllConnections();
  await new Promise((resolve) => proxy?.close(resolve));
});

test.after.each(() => {
  rules.length = 0;
  fakeRazorpay().fail(null);
});

// ---- a refund whose answer comes late is still made once (the idempotency key) ----------------

test('a partial refund (cancel one of two bookings) is made once at Razorpay even when Razorpay answers late', async () => {
  const cafe = await bookingCafe({ price_rupees: 500 });
  const ids = await holdOrFail(cafe, [cafe.slots[2].id, cafe.slots[3].id]);
  const order = await orderFor(cafe.token, ids);
  const checkout = pay(order.id, { capture: true });
  const confirmed = await confirm(cafe.token, gatewayBody(ids, checkout));
  assert.is(confirmed.status, 200, JSON.stringify(confirmed.body));

  // The first refund call reaches Razorpay 2.5 s late (RAZORPAY_TIMEOUT_MS is 1 s in tests): the
  // run times out, gives its claim back (releaseRefund), and the retry lists refunds before the
  // first one lands. (Before a4da590 the same happened with a delay past the 120 s claim.)
  rules.push({ method: 'POST', path: /\/refund$/, delayMs: 2500, times: 1 });
  const cancelled = await api('DELETE', `/bookings/${ids[0]}`, { token: cafe.token });
  assert.is(cancelled.status, 200, JSON.stringify(cancelled.body));
  try {
    await eventually(async () => (await db('refunds').where({ booking_id: ids[0] }).first('status'))?.status === 'processed', 'the refund to be made', 30_000, 200);
  } catch (error) {
    throw new Error(`${(error as Error).message}; refunds ${JSON.stringify(await db('refunds').select())}; calls ${JSON.stringify(fakeRazorpay().calls.slice(-8))}; razorpay payment ${JSON.stringify(fakeRazorpay().payments.get(checkout.razorpay_payment_id))}`);
  }
  await eventually(async () => fakeRazorpay().calls.filter((c) => c.method === 'POST' && c.path.endsWith('/refund')).length >= 2 || undefined, 'the late first call to land', 20_000, 200).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const atRazorpay = fakeRazorpay().payments.get(checkout.razorpay_payment_id)!;
  assert.equal(await statusesOf(ids), ['cancelled', 'confirmed']);
  assert.is(atRazorpay.amount_refunded, 50000, `Razorpay refunded ${atRazorpay.amount_refunded} paise for one ₹500 booking; BK-${ids[1]} is still confirmed`);
});

// ---- a refused confirmation gives back the time its fence added -------------------------------

test('confirmations with made-up payment ids do not keep a hold alive past its TTL', async () => {
  const cafe = await bookingCafe();
  const ids = await holdOrFail(cafe, [cafe.slots[4].id]);
  const bogus = (n: number) => confirm(cafe.token, { booking_id: ids, payment_mode: 'gateway', payment_id: `pay_doesnotexist${n}` });
  for (let n = 1; n <= 3; n++) {
    // the hold is about to run out (as if its TTL, or the last fence, had nearly passed)
    await db('bookings').whereIn('id', ids).update({ hold_expires_at: db.raw(`now() + interval '2 seconds'`) });
    const refused = await bogus(n);
    assert.ok(refused.status >= 400 && refused.status < 500, JSON.stringify(refused.body));
  }
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await sweepExpiredHolds();
  await eventually(async () => (await statusesOf(ids))[0] !== 'pending_verified', 'the hold to be released', 15_000).catch(() => undefined);
  const row = await db('bookings').where('id', ids[0]).first('status', db.raw('extract(epoch from hold_expires_at - now())::int AS left_s'));
  assert.is(row.status, 'verification_failed', `refused confirms kept extending the hold: still ${row.status}, ${row.left_s} s left`);
});

// ---- a late retake of two units of one slot needs two free units ------------------------------

test('two late holds of one slot by one user, one unit free: wallet confirm answers 409 slot_unavailable', async () => {
  const cafe = await bookingCafe({ total_slots: 2, price_rupees: 100 });
  const slot = cafe.slots[5].id;
  const first = await holdOrFail(cafe, [slot]);
  const second = await holdOrFail(cafe, [slot]);
  const ids = [...first, ...second];
  await expireHolds(ids);
  const rival = await makeCustomer();
  await holdOrFail(cafe, [slot], rival);
  await credit(cafe.user.id, 1000);
  const late = await confirm(cafe.token, { booking_id: ids, payment_mode: 'wallet' });
  const job = late.status === 202 ? await eventually(async () => {
    const polled = await api('GET', late.body.status_url, { token: cafe.token });
    return ['completed', 'failed'].includes(polled.body.state) ? polled.body : false;
  }, 'the confirm job to end', 15000) : null;
  assert.equal([late.status, late.body.code], [409, 'slot_unavailable'], `${late.status} ${JSON.stringify(late.body)} then ${JSON.stringify(job)}`);
  await assertInventoryMatches(cafe.game.id);
});

test('two late holds of one slot, one unit free: the gateway payment is refunded at once', async () => {
  const cafe = await bookingCafe({ total_slots: 2, price_rupees: 100 });
  const slot = cafe.slots[6].id;
  const ids = [...await holdOrFail(cafe, [slot]), ...await holdOrFail(cafe, [slot])];
  const order = await orderFor(cafe.token, ids);
  await expireHolds(ids);
  const rival = await makeCustomer();
  await holdOrFail(cafe, [slot], rival);
  const checkout = pay(order.id, { capture: true });
  const late = await confirm(cafe.token, gatewayBody(ids, checkout));
  const job = late.status === 202 ? await eventually(async () => {
    const polled = await api('GET', late.body.status_url, { token: cafe.token });
    return ['completed', 'failed'].includes(polled.body.state) ? polled.body : false;
  }, 'the payment job to end', 90_000, 500).catch((e) => String(e)) : null;
  const payment = await db('payments').where('id', checkout.razorpay_payment_id).first('status');
  assert.equal([late.status, late.body.code, payment?.status], [409, 'slot_unavailable', 'refunded'],
    `${late.status} ${JSON.stringify(late.body)} then job ${JSON.stringify(job)}; payment ${payment?.status}, bookings ${await statusesOf(ids)}`);
});

// ---- an authorized payment is checked against its order before it is captured -----------------

test('an authorized payment for the wrong amount is not captured, or is refunded', async () => {
  const cafe = await bookingCafe({ price_rupees: 500 });
  const ids = await holdOrFail(cafe, [cafe.slots[7].id]);
  const order = await amountOrder(cafe.token, 50000);
  const checkout = pay(order.id, { amount: 40000 }); // authorized only
  const refused = await confirm(cafe.token, gatewayBody(ids, checkout));
  assert.is(refused.status, 400, JSON.stringify(refused.body));
  await reconcilePayments({ orderAfterMs: 0, unusedPaymentAfterMs: 0, refundAfterMs: 0 });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await reconcilePayments({ orderAfterMs: 0, unusedPaymentAfterMs: 0, refundAfterMs: 0 });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const atRazorpay = fakeRazorpay().payments.get(checkout.razorpay_payment_id)!;
  const recorded = await db('payments').where('id', checkout.razorpay_payment_id).first('status');
  assert.ok(!atRazorpay.captured || atRazorpay.amount_refunded === atRazorpay.amount,
    `Razorpay: ${atRazorpay.status}, refunded ${atRazorpay.amount_refunded}; service's payments row: ${JSON.stringify(recorded)}; order ${JSON.stringify(await db('payment_orders').where('id', order.id).first('status'))}`);
});

test.run();
