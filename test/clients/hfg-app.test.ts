import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { api, apiBaseUrl, ApiResponse } from '../helpers/api';
import { bookingCafe, useWorkers } from '../helpers/bookings';
import { credit, pay } from '../helpers/payments';

// SPEC §12: the HFG mobile app's calls, replayed with the exact bodies it sends, through /api,
// and checked for the types the app casts the answers to. The one difference from the original
// deployment is the bearer token.

const test = suite('the HFG app');
useWorkers(test, 1);

const isInt = (value: unknown) => Number.isInteger(value);
const HHMMSS = /^\d{2}:\d{2}:\d{2}$/;

function ok(response: ApiResponse, statuses: number[], what: string): void {
  assert.ok(statuses.includes(response.status), `${what}: ${response.status} ${JSON.stringify(response.body)}`);
}

/** The app's day format in getSlots paths. */
const compact = (date: string) => date.replace(/-/g, '');

test('browse: getSlots and games/vendor answer the types the app casts to', async () => {
  const cafe = await bookingCafe({ price_rupees: 120 });
  const slots = await api('GET', `/api/getSlots/vendor/${cafe.vendor.id}/game/${cafe.game.id}/${compact(cafe.date)}`);
  ok(slots, [200], 'getSlots');
  assert.ok(slots.body.slots.length > 0);
  for (const slot of slots.body.slots) {
    assert.ok(isInt(slot.slot_id) && typeof slot.is_available === 'boolean' && isInt(slot.available_slot) && typeof slot.single_slot_price === 'number', JSON.stringify(slot));
    assert.match(slot.start_time, HHMMSS);
    assert.match(slot.end_time, HHMMSS);
  }
  const games = await api('GET', `/api/games/vendor/${cafe.vendor.id}`);
  ok(games, [200], 'games/vendor');
  assert.type(games.body.shop_open, 'boolean');
  assert.ok(games.body.games.every((g: { id: unknown; single_slot_price: unknown }) => isInt(g.id) && typeof g.single_slot_price === 'number'));
});

test('book and pay by gateway as the app does: hold without user_id, amount-only order, capture, confirm (twice), my bookings', async () => {
  const cafe = await bookingCafe({ price_rupees: 250 });
  const hold = await api('POST', '/api/bookings', {
    token: cafe.token, body: { slot_id: [cafe.slots[10].id, cafe.slots[11].id], game_id: cafe.game.id, book_date: cafe.date, is_pay_at_cafe: false },
  });
  ok(hold, [200, 201], 'hold');
  assert.ok(hold.body.bookings.every((b: { booking_id: unknown; slot_id: unknown }) => isInt(b.booking_id) && isInt(b.slot_id)));
  const ids: number[] = hold.body.bookings.map((b: { booking_id: number }) => b.booking_id);
  assert.equal((await db('bookings').whereIn('id', ids).select('user_id')).map((b: { user_id: number }) => b.user_id), [cafe.user.id, cafe.user.id], 'held for the caller');

  const order = await api('POST', '/api/create_order', { token: cafe.token, body: { amount: 50000, currency: 'INR', receipt: `order_rcpt_${Date.now()}` } });
  ok(order, [200], 'create_order');
  assert.equal([typeof order.body.id, order.body.amount], ['string', 50000]);

  const checkout = pay(order.body.id);
  ok(await api('POST', '/api/capture_payment', { token: cafe.token, body: checkout }), [200], 'capture_payment');

  const confirmBody = { booking_id: ids, payment_id: checkout.razorpay_payment_id, book_date: new Date().toISOString(), payment_mode: 'gateway' };
  const confirmed = await api('POST', '/api/bookings/confirm', { token: cafe.token, body: confirmBody });
  ok(confirmed, [200], 'confirm');
  const repeated = await api('POST', '/api/bookings/confirm', { token: cafe.token, body: confirmBody });
  assert.equal([repeated.status, repeated.body], [200, confirmed.body], 'the app repeating it gets the same 200');

  const mine = await api('GET', `/api/users/bookings?t=${Date.now()}`, { token: cafe.token });
  ok(mine, [200], 'users/bookings');
  assert.ok(Array.isArray(mine.body));
  const item = mine.body.find((b: { booking_id: number }) => b.booking_id === ids[0]);
  assert.ok(isInt(item.booking_id) && isInt(item.user_id));
  assert.is(item.status, 'confirmed');
  assert.match(item.book_date, /^\d{4}-\d{2}-\d{2}$/);
  assert.match(item.access_code, /^[A-Z0-9]{6}$/);
  assert.equal(item.slot.id, cafe.slots[10].id);
  assert.match(item.slot.start_time, HHMMSS);
  assert.equal(item.slot.time, { start_time: item.slot.start_time.slice(0, 5), end_time: item.slot.end_time.slice(0, 5) });
  assert.equal(item.slot.gaming_type_id, {
    game_id: cafe.game.id, game_name: cafe.game.game_name, single_slot_price: 250, vendor_id: cafe.vendor.id, cafe_name: { cafe_name: cafe.vendor.cafe_name },
  });
});

test('pay from the wallet with payment_id WALLET_<ms>; the same 200 again', async () => {
  const cafe = await bookingCafe({ price_rupees: 100 });
  const hold = await api('POST', '/api/bookings', { token: cafe.token, body: { slot_id: [cafe.slots[12].id], game_id: cafe.game.id, book_date: cafe.date, is_pay_at_cafe: false } });
  ok(hold, [200, 201], 'hold');
  await credit(cafe.user.id, 100);
  const body = { booking_id: [hold.body.bookings[0].booking_id], payment_id: `WALLET_${Date.now()}`, book_date: cafe.date, payment_mode: 'wallet' };
  const first = await api('POST', '/api/bookings/confirm', { token: cafe.token, body });
  ok(first, [200], 'wallet confirm');
  const again = await api('POST', '/api/bookings/confirm', { token: cafe.token, body: { ...body, payment_id: `WALLET_${Date.now() + 1}` } });
  assert.equal([again.status, again.body], [200, first.body]);
});

test('release_slot with the one object the app sends (slot_id and an ISO book_date inside, ignored)', async () => {
  const cafe = await bookingCafe();
  const hold = await api('POST', '/api/bookings', { token: cafe.token, body: { slot_id: [cafe.slots[13].id], game_id: cafe.game.id, book_date: cafe.date, is_pay_at_cafe: false } });
  const bookingId = hold.body.bookings[0].booking_id;
  const released = await api('POST', '/api/release_slot', {
    token: cafe.token, body: { bookings: { slot_id: cafe.slots[13].id, booking_id: bookingId, book_date: new Date().toISOString() } },
  });
  ok(released, [200], 'release_slot');
  assert.type(released.body.message, 'string');
  assert.is((await db('bookings').where('id', bookingId).first('status')).status, 'cancelled');
  const list = await api('POST', '/api/bookings', { token: cafe.token, body: { slot_id: [cafe.slots[14].id], game_id: String(cafe.game.id), book_date: cafe.date } });
  ok(list, [201], 'ids as numeric strings');
  ok(await api('POST', '/api/release_slot', { token: cafe.token, body: { bookings: [{ booking_id: String(list.body.bookings[0].booking_id) }] } }), [200], 'release_slot with a list');
});

test('the inert client fields are accepted; features not offered are a 400 that names them, never a 5xx, never a hold', async () => {
  const cafe = await bookingCafe();
  const base = { slot_id: [cafe.slots[15].id], game_id: cafe.game.id, book_date: cafe.date };
  for (const inert of [{ squad_details: null }, { squadDetails: { enabled: false } }, { squad_details: { enabled: false, members: [] } }, { extra_services: [] }]) {
    const held = await api('POST', '/api/bookings', { token: cafe.token, body: { ...base, slot_id: [cafe.slots[16 + Object.keys(inert).length].id], ...inert, is_pay_at_cafe: false } });
    ok(held, [201, 409], JSON.stringify(inert)); // 409: the slot was already held by an earlier case
  }
  const before = Number((await db('bookings').where('user_id', cafe.user.id).count('* as n'))[0].n);
  const refused: Array<[object, RegExp]> = [
    [{ ...base, is_pay_at_cafe: true }, /at the cafe/i],
    [{ ...base, squad_details: { enabled: true, members: [2, 3] } }, /squad/i],
    [{ ...base, squadDetails: { enabled: true } }, /squad/i],
    [{ ...base, extra_services: [{ id: 1, name: 'Snacks' }] }, /extra services/i],
  ];
  for (const [body, feature] of refused) {
    const answer = await api('POST', '/api/bookings', { token: cafe.token, body });
    assert.equal([answer.status, answer.body.code], [400, 'validation_failed'], JSON.stringify(body));
    assert.match(answer.body.message, feature);
  }
  for (const mode of ['voucher', 'none']) {
    const answer = await api('POST', '/api/bookings/confirm', { token: cafe.token, body: { booking_id: [1], payment_mode: mode, payment_id: 'PASS_1' } });
    assert.equal([answer.status, answer.body.code], [400, 'validation_failed']);
    assert.match(answer.body.message, /voucher|pass/i);
  }
  assert.is(Number((await db('bookings').where('user_id', cafe.user.id).count('* as n'))[0].n), before, 'nothing held by a refusal');
});

test('the app\'s list holds every booking (it does not page); any book_date in a confirmation is ignored; an unknown method is 405 JSON', async () => {
  const cafe = await bookingCafe({ total_slots: 1, price_rupees: 10 });
  const rows = Array.from({ length: 60 }, (_, i) => ({
    user_id: cafe.user.id, vendor_id: cafe.vendor.id, game_id: cafe.game.id, slot_id: cafe.slots[i % 20].id,
    book_date: `2026-01-${String(1 + Math.floor(i / 20)).padStart(2, '0')}`, status: 'cancelled', price_paise: 1000,
  }));
  await db('bookings').insert(rows);
  const mine = await api('GET', '/api/users/bookings?q=&t=1', { token: cafe.token });
  assert.equal([mine.status, mine.body.length], [200, 60]);
  const hold = await api('POST', '/api/bookings', { token: cafe.token, body: { slot_id: [cafe.slots[20].id], game_id: cafe.game.id, book_date: cafe.date } });
  await credit(cafe.user.id, 10);
  for (const book_date of [String(new Date()), Date.now(), null]) {
    const answer = await api('POST', '/api/bookings/confirm', { token: cafe.token, body: { booking_id: [hold.body.bookings[0].booking_id], payment_mode: 'wallet', payment_id: 'WALLET_1', book_date } });
    assert.is(answer.status, 200, `${JSON.stringify(book_date)}: ${JSON.stringify(answer.body)}`);
  }
  for (const method of ['PURGE', 'PROPFIND']) {
    const answer = await fetch(`${await apiBaseUrl()}/api/games`, { method });
    assert.is(answer.status, 405, method);
    assert.is(((await answer.json()) as { code: string }).code, 'method_not_allowed');
  }
});

test.run();
