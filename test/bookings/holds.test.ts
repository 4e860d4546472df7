import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { config } from '../../src/config';
import { db } from '../../src/db/knex';
import { localNow, weekdayOf, WEEKDAYS } from '../../src/domain/dates';
import { adminToken, api, tokenFor } from '../helpers/api';
import { dateInDays, makeGame, makeUser, makeVendor } from '../helpers/fixtures';
import {
  assertInventoryMatches, availableUnits, bookingCafe, bookingRow, bookingRowsOfGame, holdOrFail, makeCustomer,
  postHold, useWorkers, zoneWhereLocalHourIs,
} from '../helpers/bookings';

// POST /bookings (holds) and the booking reads (GET /bookings/:id, GET /bookings/user/:id), end to
// end: real HTTP against the in-process API, real worker processes running the hold jobs, and SQL
// to check that what the answer says is what the database holds (SPEC §5.3, §6).

useWorkers(test, 1);

const bookingCount = async (gameId: number) => Number((await db('bookings').where({ game_id: gameId }).count('* as n'))[0].n);

// ---- POST /bookings: success ------------------------------------------------------------------

test('a single slot_id is held: 201 with exactly the spec shape, one pending booking, one unit taken', async () => {
  const cafe = await bookingCafe({ total_slots: 3 });
  const slot = cafe.slots[19];
  const before = Date.now();
  const response = await postHold(cafe.token, { slot_id: slot.id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  const after = Date.now();
  assert.is(response.status, 201, JSON.stringify(response.body));
  assert.equal(Object.keys(response.body).sort(), ['bookings', 'hold_expires_at', 'message', 'status']);
  assert.is(response.body.message, 'Slots frozen');
  assert.is(response.body.status, 'pending_verified');
  assert.is(response.body.bookings.length, 1);
  const [{ slot_id, booking_id }] = response.body.bookings;
  assert.equal(Object.keys(response.body.bookings[0]).sort(), ['booking_id', 'slot_id']);
  assert.is(slot_id, slot.id);
  assert.ok(Number.isInteger(booking_id) && booking_id > 0);
  const expires = Date.parse(response.body.hold_expires_at);
  assert.match(response.body.hold_expires_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
  assert.ok(expires >= before + config.holdTtlSeconds * 1000 - 1000, `expires ${response.body.hold_expires_at} too early`);
  assert.ok(expires <= after + config.holdTtlSeconds * 1000 + 1000, `expires ${response.body.hold_expires_at} too late`);

  const row = await bookingRow(booking_id);
  assert.equal({ ...row, hold_expires_at: row!.hold_expires_at!.toISOString() }, {
    id: booking_id, user_id: cafe.user.id, game_id: cafe.game.id, slot_id: slot.id, book_date: cafe.date,
    status: 'pending_verified', hold_expires_at: response.body.hold_expires_at,
  });
  assert.is(await availableUnits(slot.id, cafe.date), 2);
  await assertInventoryMatches(cafe.game.id);

  // The created booking reads back as its GET shows it, under its BK- id.
  const view = await api('GET', `/bookings/BK-${booking_id}`, { token: cafe.token });
  assert.is(view.status, 200);
  assert.is(view.body.booking.booking_id, `BK-${booking_id}`);
  assert.is(view.body.booking.status, 'pending_verified');
  assert.is(view.body.booking.hold_expires_at, response.body.hold_expires_at);
});

test('an array of slot ids is held together, one booking per slot in request order; YYYYMMDD dates work', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const wanted = [cafe.slots[14].id, cafe.slots[12].id, cafe.slots[13].id];
  const response = await postHold(cafe.token, { slot_id: wanted, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date.replace(/-/g, '') });
  assert.is(response.status, 201, JSON.stringify(response.body));
  assert.equal(response.body.bookings.map((b: any) => b.slot_id), wanted);
  const ids = response.body.bookings.map((b: any) => b.booking_id);
  assert.is(new Set(ids).size, 3);
  const rows = await bookingRowsOfGame(cafe.game.id);
  assert.equal(rows.map((r) => [r.id, r.slot_id, r.status, r.book_date]).sort(),
    response.body.bookings.map((b: any) => [b.booking_id, b.slot_id, 'pending_verified', cafe.date]).sort());
  for (const slotId of wanted) assert.is(await availableUnits(slotId, cafe.date), 1);
  await assertInventoryMatches(cafe.game.id);

  for (const id of ids) {
    const view = await api('GET', `/bookings/${id}`, { token: cafe.token });
    assert.is(view.status, 200);
    assert.is(view.body.booking.booking_id, `BK-${id}`);
  }
});

test('a cafe takes a walk-in at its own cafe (201) but not at another cafe (403, nothing held); an admin holds for anyone', async () => {
  const cafe = await bookingCafe();
  // A gamer with a booking at the cafe is its customer (test/bookings/customers.test.ts: strangers).
  await holdOrFail(cafe, [cafe.slots[9].id]);
  const staff = await makeUser();
  const ownCafe = tokenFor('vendor', staff.id, cafe.vendor.id);
  const walkIn = await postHold(ownCafe, { slot_id: cafe.slots[10].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(walkIn.status, 201, JSON.stringify(walkIn.body));
  const row = await bookingRow(walkIn.body.bookings[0].booking_id);
  assert.is(row!.user_id, cafe.user.id);

  const otherVendor = await makeVendor();
  const otherCafe = tokenFor('vendor', staff.id, otherVendor.id);
  const refused = await postHold(otherCafe, { slot_id: cafe.slots[11].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(refused.status, 403);
  assert.is(refused.body.code, 'forbidden');
  assert.is(await bookingCount(cafe.game.id), 2);

  // An admin may hold for anyone, anywhere.
  const byAdmin = await postHold(adminToken(), { slot_id: cafe.slots[12].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(byAdmin.status, 201, JSON.stringify(byAdmin.body));
  assert.is((await bookingRow(byAdmin.body.bookings[0].booking_id))!.user_id, cafe.user.id);
  assert.is(await bookingCount(cafe.game.id), 3);
  await assertInventoryMatches(cafe.game.id);
});

// ---- POST /bookings: all or nothing -------------------------------------------------------------

test('one full slot among several: 409 slot_unavailable naming only that slot, and nothing is held', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const other = await makeCustomer();
  const [full, free1, free2] = [cafe.slots[15], cafe.slots[16], cafe.slots[17]];
  await holdOrFail(cafe, [full.id], other);

  const response = await postHold(cafe.token, { slot_id: [free1.id, full.id, free2.id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(response.status, 409);
  assert.is(response.body.code, 'slot_unavailable');
  assert.type(response.body.message, 'string');
  assert.equal(response.body.details, { unavailable_slot_ids: [full.id] });

  assert.is(Number((await db('bookings').where({ user_id: cafe.user.id }).count('* as n'))[0].n), 0);
  assert.is(await bookingCount(cafe.game.id), 1);
  assert.is(await availableUnits(full.id, cafe.date), 0);
  for (const slot of [free1, free2]) assert.ok([null, 1].includes(await availableUnits(slot.id, cafe.date)));
  await assertInventoryMatches(cafe.game.id);
});

test('a slot of another game is unavailable: 409 lists it (with any full one), nothing held in either game', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const { game: otherGame, slots: otherSlots } = await makeGame(cafe.vendor.id, { total_slots: 2 });
  const other = await makeCustomer();
  await holdOrFail(cafe, [cafe.slots[9].id], other);

  const foreign = await postHold(cafe.token, { slot_id: [cafe.slots[8].id, otherSlots[8].id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(foreign.status, 409);
  assert.is(foreign.body.code, 'slot_unavailable');
  assert.equal(foreign.body.details.unavailable_slot_ids, [otherSlots[8].id]);

  const both = await postHold(cafe.token, { slot_id: [otherSlots[9].id, cafe.slots[7].id, cafe.slots[9].id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(both.status, 409);
  assert.equal([...both.body.details.unavailable_slot_ids].sort(), [otherSlots[9].id, cafe.slots[9].id].sort());

  // A slot id that exists nowhere is just as unavailable.
  const missing = await postHold(cafe.token, { slot_id: [cafe.slots[6].id, 2147483000], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(missing.status, 409);
  assert.equal(missing.body.details.unavailable_slot_ids, [2147483000]);

  assert.is(Number((await db('bookings').where({ user_id: cafe.user.id }).count('* as n'))[0].n), 0);
  assert.is(await bookingCount(otherGame.id), 0);
  await assertInventoryMatches(cafe.game.id);
  await assertInventoryMatches(otherGame.id);
});

test('a weekday the cafe is closed: 409 naming every requested slot', async () => {
  const date = dateInDays(4);
  const closed = weekdayOf(date);
  const cafe = await bookingCafe({ opening_days: WEEKDAYS.filter((d) => d !== closed), days_ahead: 4 });
  assert.is(cafe.date, date);
  const wanted = [cafe.slots[10].id, cafe.slots[11].id];
  const response = await postHold(cafe.token, { slot_id: wanted, user_id: cafe.user.id, game_id: cafe.game.id, book_date: date });
  assert.is(response.status, 409);
  assert.is(response.body.code, 'slot_unavailable');
  assert.equal(response.body.details.unavailable_slot_ids, wanted);
  assert.is(await bookingCount(cafe.game.id), 0);

  // The day after is open.
  await holdOrFail(cafe, [cafe.slots[10].id], cafe, dateInDays(5));
  await assertInventoryMatches(cafe.game.id);
});

test('a past date: 409 slot_unavailable, nothing held', async () => {
  const cafe = await bookingCafe();
  const response = await postHold(cafe.token, { slot_id: [cafe.slots[20].id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: dateInDays(-1, cafe.vendor.timezone) });
  assert.is(response.status, 409);
  assert.is(response.body.code, 'slot_unavailable');
  assert.equal(response.body.details.unavailable_slot_ids, [cafe.slots[20].id]);
  assert.is(await bookingCount(cafe.game.id), 0);
  await assertInventoryMatches(cafe.game.id);
});

test('today in the cafe\'s zone: a slot that already started is refused, a later one is held', async () => {
  // A zone where it is 10:xx now: 00:00 and 09:00 have started there today, 22:00 has not.
  const zone = zoneWhereLocalHourIs(10);
  const cafe = await bookingCafe({ timezone: zone });
  const today = localNow(zone).date;
  const [midnight, nine, late] = [cafe.slots[0], cafe.slots[9], cafe.slots[22]];
  assert.is(late.start_time, '22:00:00');

  const started = await postHold(cafe.token, { slot_id: [late.id, midnight.id, nine.id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: today });
  assert.is(started.status, 409);
  assert.equal(started.body.details.unavailable_slot_ids, [midnight.id, nine.id]);
  assert.is(await bookingCount(cafe.game.id), 0);

  const held = await postHold(cafe.token, { slot_id: late.id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: today });
  assert.is(held.status, 201, JSON.stringify(held.body));
  assert.is((await bookingRow(held.body.bookings[0].booking_id))!.book_date, today);
  await assertInventoryMatches(cafe.game.id);
});

// ---- POST /bookings: refused before any job ---------------------------------------------------

test('more than MAX_SLOTS_PER_BOOKING slots, an empty list or duplicate slot ids: 400 validation_failed', async () => {
  const cafe = await bookingCafe();
  assert.is(config.maxSlotsPerBooking, 12);
  const base = { user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const tooMany = await postHold(cafe.token, { ...base, slot_id: cafe.slots.slice(0, 13).map((s) => s.id) });
  assert.is(tooMany.status, 400);
  assert.is(tooMany.body.code, 'validation_failed');
  assert.ok(Array.isArray(tooMany.body.details));
  const duplicate = await postHold(cafe.token, { ...base, slot_id: [cafe.slots[3].id, cafe.slots[4].id, cafe.slots[3].id] });
  assert.is(duplicate.status, 400);
  assert.is(duplicate.body.code, 'validation_failed');
  const empty = await postHold(cafe.token, { ...base, slot_id: [] });
  assert.is(empty.status, 400);
  // Exactly the maximum is fine.
  const twelve = await postHold(cafe.token, { ...base, slot_id: cafe.slots.slice(0, 12).map((s) => s.id) });
  assert.is(twelve.status, 201, JSON.stringify(twelve.body));
  assert.is(await bookingCount(cafe.game.id), 12);
  await assertInventoryMatches(cafe.game.id);
});

test('malformed dates and wrong types: 400 validation_failed, nothing held', async () => {
  const cafe = await bookingCafe();
  const valid = { slot_id: cafe.slots[5].id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const bad: unknown[] = [
    { ...valid, book_date: '20251345' },
    { ...valid, book_date: '2025-02-30' },
    { ...valid, book_date: '2025-13-01' },
    { ...valid, book_date: '25-11-2026' },
    { ...valid, book_date: 20261124 },
    { ...valid, book_date: '' },
    { ...valid, slot_id: 0 },
    { ...valid, slot_id: -3 },
    { ...valid, slot_id: 1.5 },
    { ...valid, slot_id: null },
    { ...valid, slot_id: { id: 1 } },
    { ...valid, slot_id: 2147483648 },
    { ...valid, game_id: true },
    { ...valid, game_id: 0 },
    { ...valid, extra: 'field' },
    { slot_id: valid.slot_id, user_id: valid.user_id, book_date: valid.book_date },
    { ...valid, user_id: 'me' },
    [valid],
  ];
  for (const body of bad) {
    const response = await postHold(cafe.token, body);
    assert.is(response.status, 400, `${JSON.stringify(body)} → ${response.status} ${JSON.stringify(response.body)}`);
    assert.is(response.body.code, 'validation_failed', JSON.stringify(body));
  }
  // Bodies that are not a JSON object at all are refused by the body parser.
  for (const rawBody of ['{"slot_id": 1,', '"slots please"', '42', 'null']) {
    const notJson = await api('POST', '/bookings', { token: cafe.token, rawBody, headers: { 'content-type': 'application/json' } });
    assert.is(notJson.status, 400, rawBody);
    assert.ok(['invalid_json', 'validation_failed'].includes(notJson.body.code), rawBody);
  }
  assert.is(await bookingCount(cafe.game.id), 0);
  await assertInventoryMatches(cafe.game.id);
});

test('acting for someone else is 403; no token is 401; nothing held', async () => {
  const cafe = await bookingCafe();
  const other = await makeCustomer();
  const body = { slot_id: cafe.slots[5].id, user_id: other.user.id, game_id: cafe.game.id, book_date: cafe.date };
  const forOther = await postHold(cafe.token, body);
  assert.is(forOther.status, 403);
  assert.is(forOther.body.code, 'forbidden');
  const anonymous = await postHold(undefined, body);
  assert.is(anonymous.status, 401);
  assert.is(anonymous.body.code, 'unauthenticated');
  const forged = await postHold('not.a.token', body);
  assert.is(forged.status, 401);
  assert.is(await bookingCount(cafe.game.id), 0);
});

test('an unknown game or a user without a users row: 404, nothing held', async () => {
  const cafe = await bookingCafe();
  const unknownGame = await postHold(cafe.token, { slot_id: cafe.slots[5].id, user_id: cafe.user.id, game_id: 2147483000, book_date: cafe.date });
  assert.is(unknownGame.status, 404);
  assert.is(unknownGame.body.code, 'not_found');

  const ghostId = 2000000000 + Math.floor(Math.random() * 100000000);
  const ghost = await postHold(tokenFor('user', ghostId), { slot_id: cafe.slots[5].id, user_id: ghostId, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(ghost.status, 404);
  assert.is(ghost.body.code, 'not_found');
  assert.is(await bookingCount(cafe.game.id), 0);
  await assertInventoryMatches(cafe.game.id);
});

test('per-user pending hold limit: the request that would pass 12 is 409 hold_limit and holds nothing', async () => {
  assert.is(config.maxPendingHoldsPerUser, 12);
  const cafe = await bookingCafe({ total_slots: 2 });
  await holdOrFail(cafe, cafe.slots.slice(0, 11).map((s) => s.id));

  // Two more would make 13: neither is held.
  const [a, b, c] = [cafe.slots[11], cafe.slots[12], cafe.slots[13]];
  const overflow = await postHold(cafe.token, { slot_id: [a.id, b.id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(overflow.status, 409);
  assert.is(overflow.body.code, 'hold_limit');
  assert.is(await bookingCount(cafe.game.id), 11);
  for (const slot of [a, b]) assert.ok([null, 2].includes(await availableUnits(slot.id, cafe.date)));

  await holdOrFail(cafe, [a.id]);
  // The 13th, on another game and date, is still over the user's limit.
  const { game: otherGame, slots: otherSlots } = await makeGame(cafe.vendor.id);
  const thirteenth = await postHold(cafe.token, { slot_id: otherSlots[5].id, user_id: cafe.user.id, game_id: otherGame.id, book_date: dateInDays(6) });
  assert.is(thirteenth.status, 409);
  assert.is(thirteenth.body.code, 'hold_limit');
  const again = await postHold(cafe.token, { slot_id: c.id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(again.status, 409);
  assert.is(again.body.code, 'hold_limit');
  assert.is(await bookingCount(cafe.game.id), 12);
  assert.is(await bookingCount(otherGame.id), 0);

  // Another customer is not affected by this one's holds.
  const other = await makeCustomer();
  await holdOrFail(cafe, [c.id], other);
  await assertInventoryMatches(cafe.game.id);
  await assertInventoryMatches(otherGame.id);
});

// ---- GET /bookings/:id ------------------------------------------------------------------------

test('GET /bookings/:id: exact shape; system is the linked console model, else the game name', async () => {
  const cafe = await bookingCafe({ price_rupees: 450 });
  const user = await db('users').where({ id: cafe.user.id }).first('name', 'email', 'phone');
  const [id] = await holdOrFail(cafe, [cafe.slots[19].id]);
  const row = await bookingRow(id);
  const expected = {
    booking: {
      booking_id: `BK-${id}`,
      status: 'pending_verified',
      date: cafe.date,
      time_slot: { start_time: '19:00', end_time: '20:00' },
      system: cafe.game.game_name,
      customer: { name: user.name, email: user.email, phone: user.phone },
      amount_paid: 0,
      access_code: null,
      hold_expires_at: row!.hold_expires_at!.toISOString(),
    },
  };
  const plain = await api('GET', `/bookings/${id}`, { token: cafe.token });
  assert.is(plain.status, 200);
  assert.equal(plain.body, expected);

  const console = await api('POST', `/vendors/${cafe.vendor.id}/consoles`, {
    token: adminToken(),
    body: { console_number: 'C-1', model_number: 'PS5 Slim', brand: 'Sony', console_type: 'console', game_ids: [cafe.game.id] },
  });
  assert.is(console.status, 201, JSON.stringify(console.body));
  for (const path of [`/bookings/BK-${id}`, `/bookings/bk-${id}`, `/api/bookings/${id}`]) {
    const linked = await api('GET', path, { token: cafe.token });
    assert.is(linked.status, 200, path);
    assert.equal(linked.body, { booking: { ...expected.booking, system: 'PS5 Slim' } }, path);
  }
});

test('GET /bookings/:id: another user gets 404, the cafe and an admin get 200, another cafe 404', async () => {
  const cafe = await bookingCafe();
  const [id] = await holdOrFail(cafe, [cafe.slots[18].id]);
  const stranger = await makeCustomer();
  const hidden = await api('GET', `/bookings/${id}`, { token: stranger.token });
  assert.is(hidden.status, 404);
  assert.is(hidden.body.code, 'not_found');
  const own = await api('GET', `/bookings/${id}`, { token: cafe.token });
  const vendor = await api('GET', `/bookings/${id}`, { token: tokenFor('vendor', stranger.user.id, cafe.vendor.id) });
  assert.is(vendor.status, 200);
  assert.equal(vendor.body, own.body);
  const admin = await api('GET', `/bookings/${id}`, { token: adminToken() });
  assert.is(admin.status, 200);
  assert.equal(admin.body, own.body);
  const otherVendor = await makeVendor();
  const otherCafe = await api('GET', `/bookings/${id}`, { token: tokenFor('vendor', stranger.user.id, otherVendor.id) });
  assert.is(otherCafe.status, 404);
  assert.is((await api('GET', `/bookings/${id}`)).status, 401);
});

test('GET /bookings/:id: unknown is 404, malformed is 400', async () => {
  const { token } = await makeCustomer();
  for (const id of ['2147483000', 'BK-2147483000', '9999999999']) {
    const response = await api('GET', `/bookings/${id}`, { token });
    assert.is(response.status, 404, id);
  }
  for (const id of ['BK-', 'BK-x', '0', '-4', '1.5', 'BX-12', 'BK-0', '99999999999']) {
    const response = await api('GET', `/bookings/${id}`, { token });
    assert.is(response.status, 400, `${id} → ${response.status}`);
    assert.is(response.body.code, 'validation_failed');
  }
});

// ---- GET /bookings/user/:id -------------------------------------------------------------------

test('GET /bookings/user/:id: newest first with the list shape, ?status= filter, limit/before paging', async () => {
  const cafe = await bookingCafe();
  const ids: number[] = [];
  for (const slot of cafe.slots.slice(10, 14)) ids.push(...(await holdOrFail(cafe, [slot.id])));
  // One of them becomes cancelled, as a fixture state.
  await db('bookings').where({ id: ids[1] }).update({ status: 'cancelled' });
  await db('slot_inventory').where({ slot_id: cafe.slots[11].id, book_date: cafe.date }).increment('available', 1);
  await assertInventoryMatches(cafe.game.id);

  const all = await api('GET', `/bookings/user/${cafe.user.id}`, { token: cafe.token });
  assert.is(all.status, 200);
  assert.equal(all.body.map((b: any) => b.booking_id), [...ids].reverse());
  assert.equal(all.body[0], {
    booking_id: ids[3], user_id: cafe.user.id, game_id: cafe.game.id, status: 'pending_verified', book_date: cafe.date,
    slot: { id: cafe.slots[13].id, start_time: '13:00', end_time: '14:00' }, access_code: null,
  });

  const cancelled = await api('GET', `/bookings/user/${cafe.user.id}?status=cancelled`, { token: cafe.token });
  assert.equal(cancelled.body.map((b: any) => [b.booking_id, b.status]), [[ids[1], 'cancelled']]);
  const pending = await api('GET', `/bookings/user/${cafe.user.id}?status=pending_verified`, { token: cafe.token });
  assert.equal(pending.body.map((b: any) => b.booking_id), [ids[3], ids[2], ids[0]]);

  const page1 = await api('GET', `/bookings/user/${cafe.user.id}?limit=2`, { token: cafe.token });
  assert.equal(page1.body.map((b: any) => b.booking_id), [ids[3], ids[2]]);
  const page2 = await api('GET', `/bookings/user/${cafe.user.id}?limit=2&before=${ids[2]}`, { token: cafe.token });
  assert.equal(page2.body.map((b: any) => b.booking_id), [ids[1], ids[0]]);
  const page3 = await api('GET', `/bookings/user/${cafe.user.id}?limit=2&before=${ids[0]}`, { token: cafe.token });
  assert.equal(page3.body, []);

  assert.is((await api('GET', `/bookings/user/${cafe.user.id}?colour=red&t=1`, { token: cafe.token })).status, 200, 'unknown parameters are ignored');
  for (const query of ['status=done', 'limit=0', 'limit=201', 'limit=x', 'before=0', 'before=-1']) {
    const response = await api('GET', `/bookings/user/${cafe.user.id}?${query}`, { token: cafe.token });
    assert.is(response.status, 400, query);
    assert.is(response.body.code, 'validation_failed', query);
  }
});

test('GET /bookings/user/:id: another user is 403; the cafe sees only its own bookings of that user; admin sees all', async () => {
  const cafe = await bookingCafe();
  const [here] = await holdOrFail(cafe, [cafe.slots[8].id]);
  const elsewhere = await bookingCafe();
  const [there] = await holdOrFail(elsewhere, [elsewhere.slots[8].id], cafe);

  const stranger = await makeCustomer();
  const forbidden = await api('GET', `/bookings/user/${cafe.user.id}`, { token: stranger.token });
  assert.is(forbidden.status, 403);
  assert.is(forbidden.body.code, 'forbidden');
  assert.is((await api('GET', `/bookings/user/${cafe.user.id}`)).status, 401);

  const vendor = await api('GET', `/bookings/user/${cafe.user.id}`, { token: tokenFor('vendor', stranger.user.id, cafe.vendor.id) });
  assert.is(vendor.status, 200);
  assert.equal(vendor.body.map((b: any) => b.booking_id), [here]);
  const admin = await api('GET', `/bookings/user/${cafe.user.id}`, { token: adminToken() });
  assert.equal(admin.body.map((b: any) => b.booking_id), [there, here]);
});

test.run();
