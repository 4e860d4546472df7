import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { adminToken, api, tokenFor } from '../helpers/api';
import { bookingCafe, eventually, holdOrFail, makeCustomer, useWorkers } from '../helpers/bookings';
import { dateInDays, makeVendor } from '../helpers/fixtures';
import { confirm, credit, expireHolds, gatewayBody, orderFor, pay } from '../helpers/payments';
import { assertVendorTablesMatchTruth } from './truth';

// SPEC §8: GET /vendor/:vendor_id/dashboard and /promo-details, read from the vendor tables that
// vendor-sync jobs write: who may read them, what they refuse, and that every change of a shown
// booking (confirm, move, cancel, a late payment refunded, a promo redemption) reaches them.

const test = suite('vendor tables: routes');
useWorkers(test, 1);

const dashboard = (vendorId: number, date: string, token: string | undefined = adminToken()) =>
  api('GET', `/vendor/${vendorId}/dashboard?date=${date}`, { token });

/** The dashboard row of a booking once it says `status` (and more, when given). */
function rowOf(vendorId: number, date: string, bookingId: number, expect: Record<string, unknown>) {
  return eventually(async () => {
    const row = (await dashboard(vendorId, date)).body.bookings.find((b: { book_id: number }) => b.book_id === bookingId);
    return row && Object.entries(expect).every(([key, value]) => row[key] === value) ? row : undefined;
  }, `booking ${bookingId} to show ${JSON.stringify(expect)} on ${date}`, 10_000);
}

async function promoCode(vendorId: number, discount: Record<string, unknown>): Promise<string> {
  const promo = await api('POST', '/promo-codes', { token: adminToken(), body: { code: `VT${Date.now() % 1_000_000}${Math.floor(Math.random() * 100)}`, vendor_id: vendorId, ...discount } });
  assert.is(promo.status, 201, JSON.stringify(promo.body));
  return promo.body.code;
}

test('who may read a dashboard: the cafe and admins; another cafe 403, a gamer 403, nobody 401; no-store; unknown cafe 404', async () => {
  const cafe = await bookingCafe();
  const other = await makeVendor();
  const own = await dashboard(cafe.vendor.id, cafe.date, tokenFor('vendor', 7, cafe.vendor.id));
  assert.is(own.status, 200, JSON.stringify(own.body));
  assert.equal(own.body, { vendor_id: cafe.vendor.id, date: cafe.date, bookings: [] });
  assert.is(own.headers.get('cache-control'), 'no-store');
  assert.is((await dashboard(cafe.vendor.id, cafe.date)).status, 200);
  for (const path of [`/vendor/${cafe.vendor.id}/dashboard?date=${cafe.date}`, `/vendor/${cafe.vendor.id}/promo-details?from=${cafe.date}&to=${cafe.date}`]) {
    const foreign = await api('GET', path, { token: tokenFor('vendor', 7, other.id) });
    assert.is(foreign.status, 403, path);
    assert.is(foreign.body.code, 'forbidden');
    assert.is((await api('GET', path, { token: cafe.token })).status, 403, path);
    assert.is((await api('GET', path)).status, 401, path);
    assert.is((await api('GET', `/api${path}`, { token: adminToken() })).status, 200, path);
  }
  const unknown = await dashboard(2147483000, cafe.date);
  assert.is(unknown.status, 404);
  assert.is(unknown.body.code, 'not_found');
  assert.is((await api('GET', `/vendor/${cafe.vendor.id}/dashboard`, { token: adminToken() })).body.date.length, 10, 'no date: the cafe\'s today');
  assert.is((await dashboard(cafe.vendor.id, cafe.date.replace(/-/g, ''))).body.date, cafe.date, 'YYYYMMDD is accepted');
});

test('bad dates and ranges are 400 validation_failed', async () => {
  const cafe = await bookingCafe();
  const base = `/vendor/${cafe.vendor.id}`;
  const today = dateInDays(0, cafe.vendor.timezone);
  for (const path of [
    `${base}/dashboard?date=2026-02-30`, `${base}/dashboard?date=tomorrow`, `${base}/dashboard?date=20261345`,
    `${base}/promo-details?from=${today}`, `${base}/promo-details?from=2026-01-10&to=2026-01-09`,
    `${base}/promo-details?from=2026-01-01&to=2026-04-03`, `${base}/promo-details?from=x&to=2026-01-01`,
  ]) {
    const answer = await api('GET', path, { token: adminToken() });
    assert.is(answer.status, 400, `${path}: ${JSON.stringify(answer.body)}`);
    assert.is(answer.body.code, 'validation_failed', path);
  }
  const quarter = await api('GET', `${base}/promo-details?from=2026-01-01&to=2026-04-02&t=1733112000000`, { token: adminToken() });
  assert.is(quarter.status, 200, '92 days is the longest range');
  assert.equal(quarter.body, { vendor_id: cafe.vendor.id, from: '2026-01-01', to: '2026-04-02', promo_details: [] });
});

test('a confirmation shows as upcoming; a move, a cancellation and a late payment refunded follow; promo redemptions are listed by booking date', async () => {
  const cafe = await bookingCafe({ price_rupees: 400, total_slots: 1 });
  const code = await promoCode(cafe.vendor.id, { discount_type: 'flat', discount_value: 100 });
  await credit(cafe.user.id, 2000);
  const [walletPaid, gatewayPaid] = await holdOrFail(cafe, [cafe.slots[10].id, cafe.slots[12].id]);
  assert.is((await confirm(cafe.token, { booking_id: walletPaid, payment_mode: 'wallet' })).status, 200);
  const order = await orderFor(cafe.token, [gatewayPaid], { promo_code: code });
  const confirmed = await confirm(cafe.token, gatewayBody([gatewayPaid], pay(order.id)));
  assert.is(confirmed.status, 200, JSON.stringify(confirmed.body));

  const row = await rowOf(cafe.vendor.id, cafe.date, walletPaid, { book_status: 'upcoming' });
  assert.equal(Object.keys(row).sort(), ['amount', 'book_id', 'book_status', 'console_id', 'date', 'end_time', 'game_id', 'game_name', 'start_time', 'updated_at', 'user_id', 'username']);
  assert.equal({ ...row, updated_at: undefined }, {
    book_id: walletPaid, user_id: cafe.user.id, username: cafe.user.name, game_id: cafe.game.id, game_name: cafe.game.game_name, console_id: null,
    date: cafe.date, start_time: '10:00', end_time: '11:00', book_status: 'upcoming', amount: 400, updated_at: undefined,
  });
  await rowOf(cafe.vendor.id, cafe.date, gatewayPaid, { book_status: 'upcoming', amount: 300 });
  const promos = await api('GET', `/vendor/${cafe.vendor.id}/promo-details?from=${cafe.date}&to=${cafe.date}`, { token: tokenFor('vendor', 7, cafe.vendor.id) });
  assert.is(promos.status, 200);
  assert.is(promos.headers.get('cache-control'), 'no-store');
  assert.equal(promos.body.promo_details.map((p: Record<string, unknown>) => ({ ...p, updated_at: undefined })), [{
    booking_id: gatewayPaid, transaction_id: confirmed.body.transaction_id, promo_code: code, discount_applied: 100, actual_price: 400,
    date: cafe.date, start_time: '12:00', game_name: cafe.game.game_name, username: cafe.user.name, book_status: 'upcoming', updated_at: undefined,
  }]);
  const before = dateInDays(2, cafe.vendor.timezone);
  assert.equal((await api('GET', `/vendor/${cafe.vendor.id}/promo-details?from=${before}&to=${before}`, { token: adminToken() })).body.promo_details, [],
    'the range filters by the booking\'s date');

  // A move to another slot and date: the row follows the booking.
  const later = dateInDays(4, cafe.vendor.timezone);
  const moved = await api('PUT', `/bookings/${walletPaid}`, { token: cafe.token, body: { slot_id: cafe.slots[15].id, book_date: later } });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  await rowOf(cafe.vendor.id, later, walletPaid, { start_time: '15:00', book_status: 'upcoming' });
  assert.not.ok((await dashboard(cafe.vendor.id, cafe.date)).body.bookings.some((b: { book_id: number }) => b.book_id === walletPaid));

  // A cancellation (refunded to the gateway) shows as cancelled; the redemption stays listed.
  assert.is((await api('DELETE', `/bookings/${gatewayPaid}`, { token: cafe.token })).status, 200);
  await rowOf(cafe.vendor.id, cafe.date, gatewayPaid, { book_status: 'cancelled' });

  // A late payment whose slot was taken meanwhile: refunded, and shown as such.
  const [late] = await holdOrFail(cafe, [cafe.slots[20].id]);
  const lateOrder = await orderFor(cafe.token, [late]);
  const checkout = pay(lateOrder.id);
  await expireHolds([late]);
  const rival = await makeCustomer();
  await holdOrFail(cafe, [cafe.slots[20].id], rival);
  const refused = await confirm(cafe.token, gatewayBody([late], checkout));
  assert.is(refused.status, 409, JSON.stringify(refused.body));
  await rowOf(cafe.vendor.id, cafe.date, late, { book_status: 'refunded', amount: 400 });
  await assertVendorTablesMatchTruth([cafe.vendor.id]);
});

test.run();
