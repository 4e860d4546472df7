import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { api } from '../helpers/api';
import { assertInventoryMatches, bookingCafe, holdOrFail, makeCustomer, useWorkers } from '../helpers/bookings';
import {
  amountOrder, assertSettled, confirm, confirmFollowed, credit, gatewayBody, orderFor, pay, paymentsOutOfLine, statusesOf, walletsOutOfLine,
} from '../helpers/payments';
import { fakeRazorpay } from '../helpers/razorpay';

// SPEC §5.3 confirm and §5.4: a booking held, paid (wallet or Razorpay through the real SDK
// against the fake server) and confirmed once; invariants 3 (Idempotency-Key), 4 (one payment id
// confirms one set of bookings) and 5 (wallet) checked in SQL after each test.

const test = suite('confirm');
useWorkers(test, 2);

test.after.each(async () => {
  assert.equal(await paymentsOutOfLine(), []);
  assert.equal(await walletsOutOfLine(), []);
});

test('wallet: a confirmation debits once, issues one access code for its bookings, and a repeat answers the first answer', async () => {
  const cafe = await bookingCafe({ price_rupees: 400 });
  const ids = await holdOrFail(cafe, [cafe.slots[10].id, cafe.slots[11].id]);
  await credit(cafe.user.id, 1000);
  const body = { booking_id: ids, payment_mode: 'wallet', payment_id: `WALLET_${Date.now()}`, book_date: new Date().toISOString() };
  const first = await confirm(cafe.token, body);
  assert.is(first.status, 200, JSON.stringify(first.body));
  assert.equal({ ...first.body, access_code: 'X', transaction_id: 0 }, {
    message: 'Booking confirmed', booking_ids: ids, access_code: 'X', amount_paid: 800, discount: 0, transaction_id: 0,
  });
  assert.match(first.body.access_code, /^[A-Z0-9]{6}$/);
  const again = await confirm(cafe.token, { ...body, payment_id: `WALLET_${Date.now() + 5}` });
  assert.equal([again.status, again.body], [200, first.body], 'the app repeating it gets the same 200');

  assert.equal(await statusesOf(ids), ['confirmed', 'confirmed']);
  const wallet = await api('GET', '/wallet', { token: cafe.token });
  assert.is(wallet.body.balance, 200, 'debited once');
  assert.equal((await db('transactions').where('user_id', cafe.user.id).select('payment_mode', 'amount_paise')), [{ payment_mode: 'wallet', amount_paise: 80000 }]);
  const views = await Promise.all(ids.map((id) => api('GET', `/bookings/${id}`, { token: cafe.token })));
  assert.equal(views.map((v) => [v.body.booking.status, v.body.booking.access_code, v.body.booking.amount_paid]),
    ids.map(() => ['confirmed', first.body.access_code, 400]));
  await assertInventoryMatches(cafe.game.id);
});

test('wallet: too low a balance is 402 insufficient_funds and changes nothing', async () => {
  const cafe = await bookingCafe({ price_rupees: 500 });
  const ids = await holdOrFail(cafe, [cafe.slots[12].id]);
  await credit(cafe.user.id, 499);
  const refused = await confirm(cafe.token, { booking_id: ids[0], payment_mode: 'wallet' });
  assert.is(refused.status, 402);
  assert.is(refused.body.code, 'insufficient_funds');
  assert.equal(await statusesOf(ids), ['pending_verified']);
  assert.is((await api('GET', '/wallet', { token: cafe.token })).body.balance, 499);
  assert.is(Number((await db('transactions').where('user_id', cafe.user.id).count('* as n'))[0].n), 0);
});

test('gateway: an order priced by the server, paid at the checkout, confirms with its signature; a repeat answers the same', async () => {
  const cafe = await bookingCafe({ price_rupees: 350 });
  const ids = await holdOrFail(cafe, [cafe.slots[13].id, cafe.slots[14].id]);
  const order = await orderFor(cafe.token, ids);
  assert.is(order.amount, 70000);
  const mismatch = await api('POST', '/create_order', { token: cafe.token, body: { amount: 69900, currency: 'INR', receipt: 'r1', booking_ids: ids } });
  assert.equal([mismatch.status, mismatch.body.code], [400, 'validation_failed'], 'a client amount that differs is refused');
  const checkout = pay(order.id);
  const first = await confirmFollowed(cafe.token, gatewayBody(ids, checkout));
  assert.is(first.status, 200, JSON.stringify(first.body));
  assert.equal([first.body.booking_ids, first.body.amount_paid], [ids, 700]);
  const again = await confirm(cafe.token, gatewayBody(ids, checkout));
  assert.equal([again.status, again.body], [200, first.body]);
  assert.equal(await statusesOf(ids), ['confirmed', 'confirmed']);
  assert.is(fakeRazorpay().payments.get(checkout.razorpay_payment_id)!.status, 'captured', 'captured by the service: the checkout only authorized it');
  assert.is(await assertSettled(checkout.razorpay_payment_id), 'confirmed');
});

test('gateway: forged, swapped and replayed-elsewhere signatures are 400 invalid_signature, and nothing is confirmed', async () => {
  const cafe = await bookingCafe();
  const ids = await holdOrFail(cafe, [cafe.slots[15].id]);
  const order = await orderFor(cafe.token, ids);
  const checkout = pay(order.id);
  const other = await orderFor(cafe.token, ids);
  const otherCheckout = pay(other.id);
  const forged = { ...checkout, razorpay_signature: 'a'.repeat(64) };
  const swapped = { ...checkout, razorpay_order_id: checkout.razorpay_payment_id.replace('pay_', 'order_'), razorpay_payment_id: checkout.razorpay_order_id.replace('order_', 'pay_') };
  const replayed = { ...checkout, razorpay_signature: otherCheckout.razorpay_signature };
  for (const body of [forged, swapped, replayed]) {
    const refused = await confirm(cafe.token, gatewayBody(ids, body));
    assert.equal([refused.status, refused.body.code], [400, 'invalid_signature'], JSON.stringify(body));
    const captured = await api('POST', '/capture_payment', { token: cafe.token, body });
    assert.equal([captured.status, captured.body.code], [400, 'invalid_signature']);
  }
  assert.equal(await statusesOf(ids), ['pending_verified']);
  assert.is(await db('payments').whereIn('id', [checkout.razorpay_payment_id, otherCheckout.razorpay_payment_id]).first(), undefined, 'nothing recorded');
});

test('gateway: a payment of another order, of a smaller amount, or of another user\'s order confirms nothing', async () => {
  const cafe = await bookingCafe({ price_rupees: 500 });
  const stranger = await makeCustomer();
  const ids = await holdOrFail(cafe, [cafe.slots[16].id]);
  const ownOrder = await orderFor(cafe.token, ids);
  const ownCheckout = pay(ownOrder.id);

  const cheap = await amountOrder(cafe.token, 40000);
  const cheapCheckout = pay(cheap.id);
  const short = await confirm(cafe.token, gatewayBody(ids, cheapCheckout));
  assert.equal([short.status, short.body.code], [400, 'validation_failed'], JSON.stringify(short.body));

  const wrongOrder = await confirm(cafe.token, { booking_id: ids, payment_mode: 'gateway', payment_id: ownCheckout.razorpay_payment_id, razorpay_order_id: cheap.id });
  assert.equal([wrongOrder.status, wrongOrder.body.code], [400, 'validation_failed']);

  const theirs = await amountOrder(stranger.token, 50000);
  const theirCheckout = pay(theirs.id);
  const foreign = await confirm(cafe.token, gatewayBody(ids, theirCheckout));
  assert.equal([foreign.status, foreign.body.code], [403, 'forbidden'], JSON.stringify(foreign.body));
  const capturedByOther = await api('POST', '/capture_payment', { token: cafe.token, body: theirCheckout });
  assert.is(capturedByOther.status, 403);

  assert.equal(await statusesOf(ids), ['pending_verified']);
  assert.is(Number((await db('transactions').where('user_id', cafe.user.id).count('* as n'))[0].n), 0);
  assert.is(await db('payments').where('id', theirCheckout.razorpay_payment_id).first(), undefined);
});

test('gateway: one payment id sent for two sets of bookings at once confirms exactly one of them', async () => {
  const cafe = await bookingCafe({ price_rupees: 500, total_slots: 3 });
  const [a] = await holdOrFail(cafe, [cafe.slots[17].id]);
  const [b] = await holdOrFail(cafe, [cafe.slots[18].id], cafe, cafe.date);
  const order = await amountOrder(cafe.token, 50000);
  const checkout = pay(order.id, { capture: true });
  const answers = await Promise.all([a, b, a, b].map((id) => confirm(cafe.token, { booking_id: [id], payment_mode: 'gateway', payment_id: checkout.razorpay_payment_id })));
  const won = answers.filter((r) => r.status === 200);
  assert.ok(won.length >= 1 && new Set(won.map((r) => r.body.transaction_id)).size === 1, JSON.stringify(answers.map((r) => [r.status, r.body])));
  const lost = answers.filter((r) => r.status !== 200);
  assert.ok(lost.length >= 1 && lost.every((r) => r.status === 409 && r.body.code === 'duplicate'), JSON.stringify(lost.map((r) => r.body)));
  const statuses = await statusesOf([a, b]);
  assert.equal([...statuses].sort(), ['confirmed', 'pending_verified']);
  assert.is(Number((await db('transactions').where('payment_id', checkout.razorpay_payment_id).count('* as n'))[0].n), 1);
});

test('the app\'s order of calls: an amount-only order, capture_payment, then confirm with payment_id (and again)', async () => {
  const cafe = await bookingCafe({ price_rupees: 250 });
  const ids = await holdOrFail(cafe, [cafe.slots[19].id, cafe.slots[20].id]);
  const order = await amountOrder(cafe.token, 50000);
  assert.equal(Object.keys(order).includes('id') && order.amount, 50000);
  const checkout = pay(order.id);
  const captured = await api('POST', '/api/capture_payment', { token: cafe.token, body: checkout });
  assert.is(captured.status, 200, JSON.stringify(captured.body));
  assert.equal(captured.body, { message: 'Payment captured', payment_id: checkout.razorpay_payment_id, order_id: order.id, status: 'captured' });
  const body = { booking_id: ids, payment_id: checkout.razorpay_payment_id, book_date: cafe.date, payment_mode: 'gateway' };
  const first = await api('POST', '/api/bookings/confirm', { token: cafe.token, body });
  assert.is(first.status, 200, JSON.stringify(first.body));
  const again = await api('POST', '/api/bookings/confirm', { token: cafe.token, body });
  assert.equal([again.status, again.body], [200, first.body]);
  assert.is(await assertSettled(checkout.razorpay_payment_id), 'confirmed');
  assert.equal(await statusesOf(ids), ['confirmed', 'confirmed']);
});

test('Idempotency-Key: a retried order and confirmation make one order and one confirmation; another body is 409', async () => {
  const cafe = await bookingCafe({ price_rupees: 300 });
  const ids = await holdOrFail(cafe, [cafe.slots[21].id]);
  const orderBody = { currency: 'INR', receipt: `rcpt_idem_${Date.now()}`, booking_ids: ids };
  const key = { 'Idempotency-Key': `order-${Date.now()}` };
  const orders = await Promise.all([1, 2, 3].map(() => api('POST', '/create_order', { token: cafe.token, body: orderBody, headers: key })));
  assert.equal(orders.map((o) => o.status), [200, 200, 200], JSON.stringify(orders.map((o) => o.body)));
  assert.is(new Set(orders.map((o) => o.body.id)).size, 1);
  assert.is(Number((await db('payment_orders').where('receipt', orderBody.receipt).count('* as n'))[0].n), 1);
  const other = await api('POST', '/create_order', { token: cafe.token, body: { ...orderBody, receipt: 'other' }, headers: key });
  assert.equal([other.status, other.body.code], [409, 'duplicate']);

  await credit(cafe.user.id, 300);
  const confirmKey = { 'Idempotency-Key': `confirm-${Date.now()}` };
  const confirms = await Promise.all([1, 2, 3].map(() => confirm(cafe.token, { booking_id: ids, payment_mode: 'wallet' }, confirmKey)));
  assert.equal(confirms.map((c) => c.status), [200, 200, 200]);
  assert.is(new Set(confirms.map((c) => JSON.stringify(c.body))).size, 1);
  assert.is((await api('GET', '/wallet', { token: cafe.token })).body.balance, 0);
});

test('a confirmation asked for asynchronously is a payment-verification job; GET /jobs/:id gives its answer, to its owner only', async () => {
  const cafe = await bookingCafe({ price_rupees: 210 });
  const ids = await holdOrFail(cafe, [cafe.slots[9].id]);
  const checkout = pay((await orderFor(cafe.token, ids)).id);
  const queued = await confirm(cafe.token, gatewayBody(ids, checkout), { Prefer: 'respond-async' });
  assert.is(queued.status, 202);
  assert.match(queued.body.job_id, /^payment-verification\./);
  let job;
  for (let i = 0; i < 100 && job?.state !== 'completed'; i++) {
    job = (await api('GET', queued.body.status_url, { token: cafe.token })).body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal([job.state, job.status, job.result.booking_ids], ['completed', 200, ids]);
  const stranger = await makeCustomer();
  assert.is((await api('GET', queued.body.status_url, { token: stranger.token })).status, 404);
});

test('bad confirmation input is a 4xx JSON error and changes nothing', async () => {
  const cafe = await bookingCafe();
  const ids = await holdOrFail(cafe, [cafe.slots[22].id]);
  const cases: Array<[unknown, number]> = [
    [{ booking_id: ids, payment_mode: 'voucher' }, 400],
    [{ booking_id: ids, payment_mode: 'gateway' }, 400],
    [{ booking_id: ids, payment_mode: 'gateway', payment_id: 'WALLET_1' }, 400],
    [{ booking_id: ids, payment_mode: 'wallet', razorpay_payment_id: 'pay_abc' }, 400],
    [{ booking_id: ids, payment_mode: 'wallet', extra: 1 }, 400],
    [{ booking_id: [], payment_mode: 'wallet' }, 400],
    [{ booking_id: 'BK-x', payment_mode: 'wallet' }, 400],
    [{ booking_id: 2147480000, payment_mode: 'wallet' }, 404],
    [{ booking_id: ids, payment_mode: 'gateway', payment_id: 'pay_doesnotexist' }, 404],
  ];
  for (const [body, status] of cases) {
    const answer = await confirm(cafe.token, body);
    assert.is(answer.status, status, `${JSON.stringify(body)} → ${JSON.stringify(answer.body)}`);
    assert.type(answer.body.code, 'string');
  }
  const stranger = await makeCustomer();
  assert.is((await confirm(stranger.token, { booking_id: ids, payment_mode: 'wallet' })).status, 404, 'someone else\'s booking is not found');
  assert.equal(await statusesOf(ids), ['pending_verified']);
});

test.run();
