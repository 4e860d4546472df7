import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { reconcileAges, reconcilePayments } from '../../src/workers/reconciler';
import { sweepExpiredHolds } from '../../src/workers/sweeper';
import { api, apiBaseUrl } from '../helpers/api';
import { assertInventoryMatches, bookingCafe, eventually, holdOrFail, makeCustomer, useWorkers, zoneWhereLocalHourIs } from '../helpers/bookings';
import {
  amountOrder, assertSettled, confirm, credit, expireHolds, gatewayBody, orderFor, pay, paymentsOutOfLine, statusesOf, walletsOutOfLine,
} from '../helpers/payments';
import { fakeRazorpay } from '../helpers/razorpay';

// SPEC §5.4 and §6: money and slot meet exactly once whatever order things happen in. Webhooks
// beside the client's confirm, payments after the hold expired, the reconciler for a user who
// closed the app, refunds on cancel before and after the cutoff, and Razorpay failing: a
// captured payment always ends confirmed or refunded (invariant 4), checked in SQL.

const test = suite('settlement');
useWorkers(test, 2);

test.after.each(async () => {
  fakeRazorpay().fail(null);
  assert.equal(await paymentsOutOfLine(), []);
  assert.equal(await walletsOutOfLine(), []);
});

const webhookUrl = async () => `${await apiBaseUrl()}/webhooks/razorpay`;

test('the same webhook three times, beside the client\'s own confirm, confirms once', async () => {
  const cafe = await bookingCafe({ price_rupees: 450 });
  const ids = await holdOrFail(cafe, [cafe.slots[10].id]);
  const order = await orderFor(cafe.token, ids);
  const checkout = pay(order.id, { capture: true });
  const url = await webhookUrl();
  const eventId = `evt_${Date.now()}`;
  const [client, ...hooks] = await Promise.all([
    confirm(cafe.token, gatewayBody(ids, checkout)),
    ...[1, 2, 3].map(() => fakeRazorpay().deliverWebhook(url, 'payment.captured', checkout.razorpay_payment_id, eventId)),
  ]);
  assert.is(client.status, 200, JSON.stringify(client.body));
  assert.equal(hooks, [200, 200, 200]);
  assert.is(Number((await db('webhook_events').where('event_id', eventId).count('* as n'))[0].n), 1);
  await new Promise((resolve) => setTimeout(resolve, 500)); // the webhook's settle job has run
  assert.is(Number((await db('transactions').where('payment_id', checkout.razorpay_payment_id).count('* as n'))[0].n), 1);
  assert.equal(await statusesOf(ids), ['confirmed']);
  assert.is(await assertSettled(checkout.razorpay_payment_id), 'confirmed');
});

test('a user who pays and closes the app is booked by the webhook; a forged webhook is 400 and changes nothing', async () => {
  const cafe = await bookingCafe();
  const ids = await holdOrFail(cafe, [cafe.slots[11].id]);
  const order = await orderFor(cafe.token, ids);
  const checkout = pay(order.id);
  const url = await webhookUrl();
  const forged = await api('POST', '/webhooks/razorpay', {
    rawBody: JSON.stringify({ event: 'order.paid', payload: { payment: { entity: { id: checkout.razorpay_payment_id, order_id: order.id } } } }),
    headers: { 'content-type': 'application/json', 'x-razorpay-signature': 'f'.repeat(64), 'x-razorpay-event-id': 'evt_forged' },
  });
  assert.equal([forged.status, forged.body.code], [400, 'invalid_signature']);
  assert.is(await db('webhook_events').where('event_id', 'evt_forged').first(), undefined);
  assert.is(await fakeRazorpay().deliverWebhook(url, 'order.paid', checkout.razorpay_payment_id), 200);
  await eventually(async () => (await statusesOf(ids))[0] === 'confirmed', 'the webhook to confirm the booking');
  assert.is(await assertSettled(checkout.razorpay_payment_id), 'confirmed');
  const view = await api('GET', `/bookings/${ids[0]}`, { token: cafe.token });
  assert.match(view.body.booking.access_code, /^[A-Z0-9]{6}$/);
});

test('the reconciler settles an order paid with no confirm and no webhook, and refunds a payment that confirmed nothing', async () => {
  const cafe = await bookingCafe({ price_rupees: 300 });
  const ids = await holdOrFail(cafe, [cafe.slots[12].id]);
  const order = await orderFor(cafe.token, ids);
  const paidForBookings = pay(order.id);
  const stray = await amountOrder(cafe.token, 12300);
  const strayCheckout = pay(stray.id, { capture: true });
  await api('POST', '/capture_payment', { token: cafe.token, body: strayCheckout });
  const now = { orderAfterMs: 0, unusedPaymentAfterMs: 0, refundAfterMs: 0 };
  await reconcilePayments(now);
  await eventually(async () => (await statusesOf(ids))[0] === 'confirmed', 'the reconciler to confirm the paid order');
  await eventually(async () => (await db('payments').where('id', strayCheckout.razorpay_payment_id).first('status'))?.status === 'refunded', 'the unused payment to be refunded');
  assert.is(await assertSettled(paidForBookings.razorpay_payment_id), 'confirmed');
  assert.is(await assertSettled(strayCheckout.razorpay_payment_id), 'refunded');
  assert.ok(reconcileAges(360).unusedPaymentAfterMs > 360_000, 'by default an unused payment waits past its hold for a confirmation');
});

test('the sweeper cannot release a hold while its payment is being verified: the fence extends it, once, and a refusal gives the time back', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const ids = await holdOrFail(cafe, [cafe.slots[20].id]);
  const checkout = pay((await orderFor(cafe.token, ids)).id);
  // The hold runs out in a moment, while Razorpay takes a timeout and a retry to answer.
  await db('bookings').whereIn('id', ids).update({ hold_expires_at: db.raw(`now() + interval '300 milliseconds'`) });
  fakeRazorpay().fail('timeout', 1);
  const confirming = confirm(cafe.token, gatewayBody(ids, checkout));
  const seen = new Set<string>();
  const sweeping = (async () => {
    for (let i = 0; i < 20; i++) {
      await sweepExpiredHolds();
      seen.add((await statusesOf(ids))[0]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const [answer] = await Promise.all([confirming, sweeping]);
  assert.is(answer.status, 200, JSON.stringify(answer.body));
  assert.not.ok(seen.has('verification_failed'), `the hold was never released: ${[...seen]}`);
  assert.equal(await statusesOf(ids), ['confirmed']);
  await assertInventoryMatches(cafe.game.id);

  // A confirmation Razorpay refuses (a made-up payment id) gives the fenced time back, and a hold is fenced once.
  const [other] = await holdOrFail(cafe, [cafe.slots[21].id]);
  await db('bookings').where('id', other).update({ hold_expires_at: db.raw(`now() + interval '5 seconds'`) });
  const expiry = async () => ((await db('bookings').where('id', other).first('hold_expires_at')).hold_expires_at as Date).getTime();
  const before = await expiry();
  for (const madeUp of ['pay_madeup1', 'pay_madeup2']) {
    assert.is((await confirm(cafe.token, { booking_id: [other], payment_mode: 'gateway', payment_id: madeUp })).status, 404);
    assert.is(await expiry(), before, 'the hold keeps its own expiry');
  }
  assert.ok((await db('bookings').where('id', other).first('fenced_at')).fenced_at, 'it was fenced, once');
});

test('a payment after the hold expired retakes the slot while it is free', async () => {
  const cafe = await bookingCafe({ total_slots: 1, price_rupees: 200 });
  const ids = await holdOrFail(cafe, [cafe.slots[13].id]);
  const order = await orderFor(cafe.token, ids);
  await expireHolds(ids);
  const checkout = pay(order.id);
  const late = await confirm(cafe.token, gatewayBody(ids, checkout));
  assert.is(late.status, 200, JSON.stringify(late.body));
  assert.equal(await statusesOf(ids), ['confirmed']);
  await assertInventoryMatches(cafe.game.id);
  assert.is((await db('slot_inventory').where({ slot_id: cafe.slots[13].id, book_date: cafe.date }).first('available')).available, 0);
  assert.is(await assertSettled(checkout.razorpay_payment_id), 'confirmed');
});

test('a payment after the hold expired and the slot was taken is refunded, and the booking marked refunded', async () => {
  const cafe = await bookingCafe({ total_slots: 1, price_rupees: 200 });
  const ids = await holdOrFail(cafe, [cafe.slots[14].id]);
  const order = await orderFor(cafe.token, ids);
  await expireHolds(ids);
  const rival = await makeCustomer();
  await holdOrFail(cafe, [cafe.slots[14].id], rival);
  const checkout = pay(order.id);
  const late = await confirm(cafe.token, gatewayBody(ids, checkout));
  assert.equal([late.status, late.body.code], [409, 'slot_unavailable'], JSON.stringify(late.body));
  assert.equal(late.body.details.refund, { amount: 200, to: 'payment_gateway', status: 'pending', payment_id: checkout.razorpay_payment_id });
  assert.equal(await statusesOf(ids), ['refunded']);
  assert.is(await assertSettled(checkout.razorpay_payment_id), 'refunded');
  const again = await confirm(cafe.token, gatewayBody(ids, checkout));
  assert.is(again.status, 409, 'a refunded payment confirms nothing later');
  await assertInventoryMatches(cafe.game.id);
});

test('cancelling before the cutoff refunds: through Razorpay once, or back to the wallet', async () => {
  const cafe = await bookingCafe({ price_rupees: 600 });
  const [viaGateway, viaWallet] = [await holdOrFail(cafe, [cafe.slots[15].id]), await holdOrFail(cafe, [cafe.slots[16].id])];
  const order = await orderFor(cafe.token, viaGateway);
  const checkout = pay(order.id);
  assert.is((await confirm(cafe.token, gatewayBody(viaGateway, checkout))).status, 200);
  await credit(cafe.user.id, 600);
  assert.is((await confirm(cafe.token, { booking_id: viaWallet, payment_mode: 'wallet' })).status, 200);

  const cancelled = await Promise.all([1, 2].map(() => api('DELETE', `/bookings/${viaGateway[0]}`, { token: cafe.token })));
  assert.equal(cancelled.map((c) => c.status).sort(), [200, 409], 'cancelled once');
  const ok = cancelled.find((c) => c.status === 200)!;
  assert.equal(ok.body, { message: 'Booking canceled successfully', refund: { amount: 600, to: 'payment_gateway', status: 'pending' } });
  await eventually(async () => (await db('refunds').where({ booking_id: viaGateway[0] }).first('status'))?.status === 'processed', 'the refund to be made');
  assert.is(fakeRazorpay().payments.get(checkout.razorpay_payment_id)!.amount_refunded, 60000);

  const walletCancel = await api('DELETE', `/bookings/${viaWallet[0]}`, { token: cafe.token });
  assert.equal(walletCancel.body.refund, { amount: 600, to: 'wallet', status: 'processed' });
  assert.is((await api('GET', '/wallet', { token: cafe.token })).body.balance, 600);
  assert.equal(await statusesOf([...viaGateway, ...viaWallet]), ['cancelled', 'cancelled']);
  assert.equal((await db('transactions').where('user_id', cafe.user.id).orderBy('id').select('status')).map((t: { status: string }) => t.status), ['refunded', 'refunded']);
  await assertInventoryMatches(cafe.game.id);
});

test('cancelling a confirmed booking inside the cutoff is 409 with a clear message, and refunds nothing', async () => {
  // A cafe whose clock shows hh:xx now: its slot at hh+1:00 starts within the hour.
  const cafe = await bookingCafe({ timezone: zoneWhereLocalHourIs(12), days_ahead: 0, slots: [['13:00', '14:00']], price_rupees: 300 });
  const ids = await holdOrFail(cafe, [cafe.slots[0].id]);
  await credit(cafe.user.id, 300);
  assert.is((await confirm(cafe.token, { booking_id: ids, payment_mode: 'wallet' })).status, 200);
  const refused = await api('DELETE', `/bookings/${ids[0]}`, { token: cafe.token });
  assert.equal([refused.status, refused.body.code], [409, 'invalid_state']);
  assert.match(refused.body.message, /60 minutes before/);
  assert.equal(await statusesOf(ids), ['confirmed']);
  assert.is((await api('GET', '/wallet', { token: cafe.token })).body.balance, 0);
});

test('Razorpay answering 500 or timing out is retried with backoff, and the confirmation still lands once', async () => {
  const cafe = await bookingCafe({ price_rupees: 320 });
  const [first, second] = [await holdOrFail(cafe, [cafe.slots[17].id]), await holdOrFail(cafe, [cafe.slots[18].id])];
  const firstCheckout = pay((await orderFor(cafe.token, first)).id);
  const secondCheckout = pay((await orderFor(cafe.token, second)).id);
  fakeRazorpay().fail('error500', 2);
  const afterErrors = await confirm(cafe.token, gatewayBody(first, firstCheckout));
  assert.is(afterErrors.status, 200, JSON.stringify(afterErrors.body));
  fakeRazorpay().fail('timeout', 1);
  const afterTimeout = await confirm(cafe.token, gatewayBody(second, secondCheckout));
  assert.ok([200, 202].includes(afterTimeout.status), JSON.stringify(afterTimeout.body));
  await eventually(async () => (await statusesOf(second))[0] === 'confirmed', 'the confirmation after a timeout', 10000);
  assert.equal(await statusesOf([...first, ...second]), ['confirmed', 'confirmed']);
  for (const checkout of [firstCheckout, secondCheckout]) assert.is(await assertSettled(checkout.razorpay_payment_id), 'confirmed');
});

test.run();
