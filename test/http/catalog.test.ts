import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'crypto';
import { api, adminToken, tokenFor } from '../helpers/api';
import { dateInDays, makeGame, makeVendor } from '../helpers/fixtures';
import { db } from '../../src/db/knex';
import { Console } from '../../src/db/models';
import { LocalNow, localNow, weekdayOf, WEEKDAYS } from '../../src/domain/dates';

const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const UNKNOWN_ID = 2147483000;
const HOURS = Array.from({ length: 23 }, (_, hour) => hour); // makeGame's default slots start at 00:00 … 22:00

const clock = (hour: number): string => `${String(hour).padStart(2, '0')}:00:00`;
const localHour = (local: LocalNow): number => Number(local.time.slice(0, 2));

/** A fixed-offset zone in which it is now `hour` o'clock (Etc/GMT-5 is UTC+5: POSIX signs). */
function zoneWhereLocalHourIs(hour: number): string {
  let offset = (hour - new Date().getUTCHours() + 48) % 24;
  if (offset > 14) offset -= 24;
  return offset === 0 ? 'Etc/GMT' : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}

/**
 * Runs `request` and hands back the local clock of each zone as it was before it. Hourly slots
 * only care about the local date and hour, so the work is repeated if either changed meanwhile.
 */
async function atStableHour<T>(zones: string[], request: (locals: LocalNow[]) => Promise<T>): Promise<{ result: T; locals: LocalNow[] }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = zones.map((zone) => localNow(zone));
    const result = await request(before);
    const after = zones.map((zone) => localNow(zone));
    if (before.every((local, i) => local.date === after[i].date && localHour(local) === localHour(after[i]))) {
      return { result, locals: before };
    }
  }
  throw new Error('the local hour kept changing');
}

function assertValidationFailed(response: { status: number; body: any }, what: string): void {
  assert.is(response.status, 400, `${what}: status`);
  assert.is(response.body.code, 'validation_failed', `${what}: code`);
  assert.type(response.body.message, 'string', `${what}: message`);
}

function assertNotFound(response: { status: number; body: any }, what: string): void {
  assert.is(response.status, 404, `${what}: status`);
  assert.is(response.body.code, 'not_found', `${what}: code`);
}

const uniqueName = (label: string): string => `${label} ${randomUUID().slice(0, 8)}`;

// ---------------------------------------------------------------- games

test('GET /games lists every game with its price in whole rupees, also under /api', async () => {
  const vendor = await makeVendor();
  const { game } = await makeGame(vendor.id, { game_name: uniqueName('FIFA 25'), total_slots: 4, price_rupees: 750 });
  for (const path of ['/games', '/api/games']) {
    const response = await api('GET', path);
    assert.is(response.status, 200, path);
    assert.ok(Array.isArray(response.body));
    const listed = response.body.find((entry: any) => entry.id === game.id);
    assert.equal(listed, { id: game.id, game_name: game.game_name, total_slots: 4, single_slot_price: 750 }, path);
  }
});

test('GET /games/vendor/:id lists that vendor\'s games only, with opening days and counts', async () => {
  const vendor = await makeVendor({ opening_days: EVERY_DAY });
  const other = await makeVendor();
  const first = await makeGame(vendor.id, { game_name: 'PS5', total_slots: 4, price_rupees: 500 });
  const second = await makeGame(vendor.id, { game_name: 'High-end PC', total_slots: 2, price_rupees: 600 });
  await makeGame(other.id, { game_name: 'Elsewhere' });
  for (const path of [`/games/vendor/${vendor.id}`, `/api/games/vendor/${vendor.id}`]) {
    const response = await api('GET', path);
    assert.is(response.status, 200, path);
    assert.equal(response.body, {
      games: [
        { id: first.game.id, game_name: 'PS5', total_slots: 4, single_slot_price: 500, opening_days: EVERY_DAY },
        { id: second.game.id, game_name: 'High-end PC', total_slots: 2, single_slot_price: 600, opening_days: EVERY_DAY },
      ],
      shop_open: true,
      game_count: 2,
    }, path);
  }
});

test('GET /games/vendor/:id for a vendor without games, and for unknown or malformed vendors', async () => {
  const vendor = await makeVendor({ opening_days: [] });
  const empty = await api('GET', `/games/vendor/${vendor.id}`);
  assert.is(empty.status, 200);
  assert.equal(empty.body, { games: [], shop_open: false, game_count: 0 });

  assertNotFound(await api('GET', `/games/vendor/${UNKNOWN_ID}`), 'unknown vendor');
  for (const id of ['abc', '0', '-1', '1.5', '99999999999']) {
    assertValidationFailed(await api('GET', `/games/vendor/${id}`), `vendor id ${id}`);
  }
});

test('shop_open follows today in the vendor\'s zone (Kiritimati UTC+14 vs Pago Pago UTC-11)', async () => {
  // Both cafes open only on the weekday it is now in Kiritimati; it is always another day in Pago Pago.
  const { result, locals } = await atStableHour(['Pacific/Kiritimati', 'Pacific/Pago_Pago'], async ([kiritimati]) => {
    const openingDays = [kiritimati.weekday];
    const east = await makeVendor({ timezone: 'Pacific/Kiritimati', opening_days: openingDays });
    const west = await makeVendor({ timezone: 'Pacific/Pago_Pago', opening_days: openingDays });
    await makeGame(east.id);
    await makeGame(west.id);
    return Promise.all([api('GET', `/games/vendor/${east.id}`), api('GET', `/games/vendor/${west.id}`)]);
  });
  const [kiritimati, pagoPago] = locals;
  assert.is.not(kiritimati.weekday, pagoPago.weekday);
  assert.is(result[0].body.shop_open, true);
  assert.is(result[1].body.shop_open, false);
  assert.equal(result[1].body.games[0].opening_days, [kiritimati.weekday]);
});

test('GET /games ignores unknown query parameters (the dashboard\'s cache-busters)', async () => {
  const plain = await api('GET', '/games');
  const busted = await api('GET', '/games?t=1733112000000&page=2');
  assert.equal([busted.status, busted.body.length], [200, plain.body.length]);
});

// ---------------------------------------------------------------- gaming types

test('gaming types: an admin creates one, everyone lists it, an admin deletes it', async () => {
  const name = uniqueName('VR Gaming');
  const created = await api('POST', '/gaming-types', { token: adminToken(), body: { name, description: 'Virtual Reality gaming setup' } });
  assert.is(created.status, 201);
  assert.equal(Object.keys(created.body).sort(), ['description', 'id', 'name']);
  assert.equal(created.body, { id: created.body.id, name, description: 'Virtual Reality gaming setup' });
  assert.ok(Number.isInteger(created.body.id) && created.body.id > 0);

  for (const path of ['/gaming-types', '/api/gaming-types']) {
    const listed = await api('GET', path);
    assert.is(listed.status, 200);
    assert.equal(listed.body.find((type: any) => type.id === created.body.id), created.body, path);
  }

  const deleted = await api('DELETE', `/gaming-types/${created.body.id}`, { token: adminToken() });
  assert.is(deleted.status, 200);
  assert.equal(deleted.body, { message: 'Gaming type deleted' });
  const after = await api('GET', '/gaming-types');
  assert.is(after.body.find((type: any) => type.id === created.body.id), undefined);
  assertNotFound(await api('DELETE', `/gaming-types/${created.body.id}`, { token: adminToken() }), 'deleted twice');
});

test('gaming types: description is optional, names are trimmed and unique regardless of case', async () => {
  const name = uniqueName('PC Gaming');
  const created = await api('POST', '/api/gaming-types', { token: adminToken(), body: { name: `  ${name} ` } });
  assert.is(created.status, 201);
  assert.equal(created.body, { id: created.body.id, name, description: '' });

  for (const duplicate of [name, name.toUpperCase(), ` ${name.toLowerCase()}`]) {
    const response = await api('POST', '/gaming-types', { token: adminToken(), body: { name: duplicate, description: 'again' } });
    assert.is(response.status, 409, duplicate);
    assert.is(response.body.code, 'duplicate');
  }
  const matching = (await api('GET', '/gaming-types')).body.filter((type: any) => type.name.toLowerCase() === name.toLowerCase());
  assert.is(matching.length, 1);
});

test('gaming types: a type used by a game cannot be deleted', async () => {
  const created = await api('POST', '/gaming-types', { token: adminToken(), body: { name: uniqueName('Console Gaming') } });
  const vendor = await makeVendor();
  const { game } = await makeGame(vendor.id);
  await db('games').where({ id: game.id }).update({ gaming_type_id: created.body.id });

  const refused = await api('DELETE', `/gaming-types/${created.body.id}`, { token: adminToken() });
  assert.is(refused.status, 409);
  assert.is(refused.body.code, 'invalid_state');
  assert.ok((await api('GET', '/gaming-types')).body.some((type: any) => type.id === created.body.id));

  await db('games').where({ id: game.id }).update({ gaming_type_id: null });
  assert.is((await api('DELETE', `/gaming-types/${created.body.id}`, { token: adminToken() })).status, 200);
});

test('gaming types: only admins may create or delete', async () => {
  const created = await api('POST', '/gaming-types', { token: adminToken(), body: { name: uniqueName('Retro') } });
  const userToken = tokenFor('user', 42);
  // A user token whose payload was rewritten to claim admin, keeping the user's signature.
  const [header, , signature] = userToken.split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ sub: 42, role: 'admin', exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
  const tampered = `${header}.${forgedPayload}.${signature}`;
  const cases: Array<[string, string | undefined, number, string]> = [
    ['no token', undefined, 401, 'unauthenticated'],
    ['user', userToken, 403, 'forbidden'],
    ['vendor', tokenFor('vendor', 43, 7), 403, 'forbidden'],
    ['tampered', tampered, 401, 'unauthenticated'],
  ];
  for (const [who, token, status, code] of cases) {
    const create = await api('POST', '/gaming-types', { token, body: { name: uniqueName('Sneaky') } });
    assert.is(create.status, status, `create as ${who}`);
    assert.is(create.body.code, code, `create as ${who}`);
    const remove = await api('DELETE', `/gaming-types/${created.body.id}`, { token });
    assert.is(remove.status, status, `delete as ${who}`);
    assert.is(remove.body.code, code, `delete as ${who}`);
  }
  assert.ok((await api('GET', '/gaming-types')).body.some((type: any) => type.id === created.body.id));
  assert.not.ok((await api('GET', '/gaming-types')).body.some((type: any) => type.name.startsWith('Sneaky')));
});

test('gaming types: malformed bodies and ids are 400', async () => {
  const bodies: unknown[] = [{}, { name: '' }, { name: '   ' }, { name: 5 }, { name: 'x'.repeat(101) },
    { name: uniqueName('Ok'), description: 7 }, { name: uniqueName('Ok'), colour: 'red' }, ['VR']];
  for (const body of bodies) {
    assertValidationFailed(await api('POST', '/gaming-types', { token: adminToken(), body }), JSON.stringify(body));
  }
  // A bare JSON string or null is not even an object: the body parser refuses it before validation.
  for (const body of ['VR', null]) {
    assert.is((await api('POST', '/gaming-types', { token: adminToken(), body })).status, 400, JSON.stringify(body));
  }
  for (const id of ['abc', '0', '-3', '2.5']) {
    assertValidationFailed(await api('DELETE', `/gaming-types/${id}`, { token: adminToken() }), `id ${id}`);
  }
  assertNotFound(await api('DELETE', `/gaming-types/${UNKNOWN_ID}`, { token: adminToken() }), 'unknown id');
});

// ---------------------------------------------------------------- slots

test('GET /slots filters by game and vendor and shows times as HH:MM:SS', async () => {
  const type = await api('POST', '/gaming-types', { token: adminToken(), body: { name: uniqueName('Console') } });
  const vendor = await makeVendor();
  const other = await makeVendor();
  const first = await makeGame(vendor.id, { slots: [['19:00', '20:00'], ['10:00', '11:30']] });
  const second = await makeGame(vendor.id, { slots: [['12:00', '13:00']] });
  const elsewhere = await makeGame(other.id, { slots: [['09:00', '10:00']] });
  await db('games').where({ id: first.game.id }).update({ gaming_type_id: type.body.id });
  const [ten, nineteen] = first.slots;
  const firstSlots = [
    { id: ten.id, start_time: '10:00:00', end_time: '11:30:00', gaming_type_id: type.body.id, game_id: first.game.id },
    { id: nineteen.id, start_time: '19:00:00', end_time: '20:00:00', gaming_type_id: type.body.id, game_id: first.game.id },
  ];
  const secondSlots = [{ id: second.slots[0].id, start_time: '12:00:00', end_time: '13:00:00', gaming_type_id: null, game_id: second.game.id }];

  const byGame = await api('GET', `/slots?game_id=${first.game.id}`);
  assert.is(byGame.status, 200);
  assert.equal(byGame.body, firstSlots);
  assert.equal((await api('GET', `/api/slots?vendor_id=${vendor.id}`)).body, [...firstSlots, ...secondSlots]);
  assert.equal((await api('GET', `/slots?vendor_id=${vendor.id}&game_id=${second.game.id}`)).body, secondSlots);
  assert.equal((await api('GET', `/slots?vendor_id=${vendor.id}&game_id=${elsewhere.game.id}`)).body, []);
  assert.equal((await api('GET', `/slots?game_id=${UNKNOWN_ID}`)).body, []);

  const all = await api('GET', '/slots');
  assert.is(all.status, 200);
  for (const slot of [...firstSlots, ...secondSlots]) assert.equal(all.body.find((entry: any) => entry.id === slot.id), slot);
  assert.ok(all.body.some((entry: any) => entry.id === elsewhere.slots[0].id));
});

test('GET /slots ignores unknown query parameters and refuses malformed known ones', async () => {
  for (const query of ['gameid=1', 'game_id=1&sort=asc', 't=1733112000000', 'vendor_id=']) assert.is((await api('GET', `/slots?${query}`)).status, 200, query);
  for (const query of ['game_id=abc', 'game_id=0', 'vendor_id=-2', 'game_id=1.5', 'game_id=1&game_id=2']) {
    assertValidationFailed(await api('GET', `/slots?${query}`), query);
  }
});

// ---------------------------------------------------------------- getSlots

test('GET /getSlots on a future date: every slot, by start time, full capacity and price', async () => {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { total_slots: 3, price_rupees: 450, slots: [['19:00', '20:00'], ['08:00', '09:00'], ['12:30', '13:15']] });
  const date = dateInDays(10);
  const expected = {
    slots: slots.map((slot) => ({
      slot_id: slot.id, start_time: `${slot.start_time.slice(0, 5)}:00`, end_time: `${slot.end_time.slice(0, 5)}:00`,
      is_available: true, available_slot: 3, single_slot_price: 450,
    })),
  };
  assert.equal(expected.slots.map((slot) => slot.start_time), ['08:00:00', '12:30:00', '19:00:00']);
  for (const path of [
    `/getSlots/vendor/${vendor.id}/game/${game.id}/${date.replace(/-/g, '')}`,
    `/getSlots/vendor/${vendor.id}/game/${game.id}/${date}`,
    `/api/getSlots/vendor/${vendor.id}/game/${game.id}/${date.replace(/-/g, '')}`,
  ]) {
    const response = await api('GET', path);
    assert.is(response.status, 200, path);
    assert.equal(response.body, expected, path);
  }
});

test('GET /getSlots reads live inventory rows for that date only', async () => {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { total_slots: 3, slots: [['10:00', '11:00'], ['11:00', '12:00'], ['12:00', '13:00']] });
  const [held, full, untouched] = slots;
  const date = dateInDays(4);
  const otherDate = dateInDays(5);
  await db('slot_inventory').insert([
    { slot_id: held.id, book_date: date, game_id: game.id, capacity: 3, available: 1 },
    { slot_id: full.id, book_date: date, game_id: game.id, capacity: 3, available: 0 },
    { slot_id: untouched.id, book_date: otherDate, game_id: game.id, capacity: 3, available: 0 },
  ]);

  const response = await api('GET', `/getSlots/vendor/${vendor.id}/game/${game.id}/${date}`);
  assert.is(response.status, 200);
  assert.equal(response.body.slots.map((slot: any) => [slot.slot_id, slot.available_slot, slot.is_available]), [
    [held.id, 1, true],
    [full.id, 0, false],
    [untouched.id, 3, true],
  ]);
  const nextDay = await api('GET', `/getSlots/vendor/${vendor.id}/game/${game.id}/${otherDate}`);
  assert.equal(nextDay.body.slots.map((slot: any) => [slot.slot_id, slot.available_slot, slot.is_available]), [
    [held.id, 3, true],
    [full.id, 3, true],
    [untouched.id, 0, false],
  ]);
});

test('GET /getSlots on a past date: nothing is available', async () => {
  const vendor = await makeVendor();
  const { game } = await makeGame(vendor.id, { total_slots: 2 });
  const response = await api('GET', `/getSlots/vendor/${vendor.id}/game/${game.id}/${dateInDays(-2).replace(/-/g, '')}`);
  assert.is(response.status, 200);
  assert.is(response.body.slots.length, 23);
  assert.ok(response.body.slots.every((slot: any) => slot.is_available === false && slot.available_slot === 2));
});

test('GET /getSlots today: slots that already started are not available', async () => {
  const zone = zoneWhereLocalHourIs(12);
  const vendor = await makeVendor({ timezone: zone });
  const { game, slots } = await makeGame(vendor.id);
  const { result, locals: [local] } = await atStableHour([zone], ([now]) => api('GET', `/getSlots/vendor/${vendor.id}/game/${game.id}/${now.date}`));
  const hour = localHour(local);
  assert.is(result.status, 200);
  assert.equal(result.body.slots.map((slot: any) => [slot.slot_id, slot.start_time, slot.is_available]),
    HOURS.map((h) => [slots[h].id, clock(h), h > hour]));
  assert.ok(result.body.slots.some((slot: any) => slot.is_available) && result.body.slots.some((slot: any) => !slot.is_available));
});

test('GET /getSlots judges today in the vendor\'s zone (Kiritimati UTC+14 vs Pago Pago UTC-11)', async () => {
  const east = await makeVendor({ timezone: 'Pacific/Kiritimati' });
  const west = await makeVendor({ timezone: 'Pacific/Pago_Pago' });
  const eastGame = await makeGame(east.id);
  const westGame = await makeGame(west.id);
  const { result, locals } = await atStableHour(['Pacific/Kiritimati', 'Pacific/Pago_Pago'], ([kiritimati, pagoPago]) => Promise.all([
    api('GET', `/getSlots/vendor/${east.id}/game/${eastGame.game.id}/${kiritimati.date}`),
    api('GET', `/getSlots/vendor/${east.id}/game/${eastGame.game.id}/${pagoPago.date}`),
    api('GET', `/getSlots/vendor/${west.id}/game/${westGame.game.id}/${kiritimati.date}`),
    api('GET', `/getSlots/vendor/${west.id}/game/${westGame.game.id}/${pagoPago.date}`),
  ]));
  const [kiritimati, pagoPago] = locals;
  assert.ok(pagoPago.date < kiritimati.date);
  const availability = (response: any) => response.body.slots.map((slot: any) => slot.is_available);
  // Kiritimati's today, in Kiritimati: only slots after the local hour.
  assert.equal(availability(result[0]), HOURS.map((h) => h > localHour(kiritimati)));
  // Pago Pago's today is already over in Kiritimati …
  assert.equal(availability(result[1]), HOURS.map(() => false));
  // … and Kiritimati's today is still to come in Pago Pago.
  assert.equal(availability(result[2]), HOURS.map(() => true));
  assert.equal(availability(result[3]), HOURS.map((h) => h > localHour(pagoPago)));
});

test('GET /getSlots on a closed weekday answers no slots', async () => {
  const date = dateInDays(3);
  const closed = weekdayOf(date);
  const vendor = await makeVendor({ opening_days: WEEKDAYS.filter((day) => day !== closed) });
  const { game } = await makeGame(vendor.id);
  const response = await api('GET', `/getSlots/vendor/${vendor.id}/game/${game.id}/${date}`);
  assert.is(response.status, 200);
  assert.equal(response.body, { slots: [] });
  const open = await api('GET', `/getSlots/vendor/${vendor.id}/game/${game.id}/${dateInDays(4)}`);
  assert.is(open.body.slots.length, 23);
});

test('GET /getSlots for a game without slots answers no slots', async () => {
  const vendor = await makeVendor();
  const { game } = await makeGame(vendor.id, { slots: [] });
  const response = await api('GET', `/getSlots/vendor/${vendor.id}/game/${game.id}/${dateInDays(1)}`);
  assert.is(response.status, 200);
  assert.equal(response.body, { slots: [] });
});

test('GET /getSlots refuses malformed and impossible dates with 400 JSON', async () => {
  const vendor = await makeVendor();
  const { game } = await makeGame(vendor.id);
  for (const date of ['2025-13-01', '20251345', '2025-02-30', 'abc', '2025-1-1', '2025-0101', '202511', '2025-11-24T10:00']) {
    const response = await api('GET', `/getSlots/vendor/${vendor.id}/game/${game.id}/${encodeURIComponent(date)}`);
    assertValidationFailed(response, date);
    assert.ok(response.headers.get('content-type')?.includes('application/json'), date);
  }
});

test('GET /getSlots: unknown vendor or game, another vendor\'s game → 404; bad ids or query → 400', async () => {
  const vendor = await makeVendor();
  const other = await makeVendor();
  const { game } = await makeGame(vendor.id);
  const { game: otherGame } = await makeGame(other.id);
  const date = dateInDays(1);
  assertNotFound(await api('GET', `/getSlots/vendor/${UNKNOWN_ID}/game/${game.id}/${date}`), 'unknown vendor');
  assertNotFound(await api('GET', `/getSlots/vendor/${vendor.id}/game/${UNKNOWN_ID}/${date}`), 'unknown game');
  assertNotFound(await api('GET', `/getSlots/vendor/${vendor.id}/game/${otherGame.id}/${date}`), 'another vendor\'s game');
  assertNotFound(await api('GET', `/api/getSlots/vendor/${other.id}/game/${game.id}/${date}`), 'another vendor\'s game under /api');
  for (const [vendorId, gameId] of [['abc', game.id], [vendor.id, '-1'], ['0', game.id], [vendor.id, '1.5']]) {
    assertValidationFailed(await api('GET', `/getSlots/vendor/${vendorId}/game/${gameId}/${date}`), `${vendorId}/${gameId}`);
  }
  const busted = await api('GET', `/getSlots/vendor/${vendor.id}/game/${game.id}/${date}?t=1733112000000`);
  assert.is(busted.status, 200, 'a cache-buster is ignored');
  assert.ok(Array.isArray(busted.body.slots));
});

// ---------------------------------------------------------------- getSlotList

test('GET /getSlotList: the next six slots today with their live availability', async () => {
  const zone = zoneWhereLocalHourIs(5);
  const vendor = await makeVendor({ timezone: zone });
  const { game, slots } = await makeGame(vendor.id, { total_slots: 2 });
  const { result, locals: [local] } = await atStableHour([zone], async ([now]) => {
    await db('slot_inventory').where({ game_id: game.id }).delete(); // from an attempt in another hour
    const next = localHour(now) + 1;
    const tomorrow = dateInDays(1, zone);
    await db('slot_inventory').insert([
      { slot_id: slots[next + 1].id, book_date: now.date, game_id: game.id, capacity: 2, available: 0 },
      { slot_id: slots[next + 2].id, book_date: now.date, game_id: game.id, capacity: 2, available: 1 },
      // Other days' holds must not leak into today's list.
      { slot_id: slots[next + 3].id, book_date: tomorrow, game_id: game.id, capacity: 2, available: 0 },
      { slot_id: slots[next].id, book_date: dateInDays(-1, zone), game_id: game.id, capacity: 2, available: 0 },
    ]);
    return Promise.all([
      api('GET', `/getSlotList/vendor/${vendor.id}/game/${game.id}`),
      api('GET', `/api/getSlotList/vendor/${vendor.id}/game/${game.id}`),
    ]);
  });
  const next = localHour(local) + 1;
  const expected = [0, 1, 2, 3, 4, 5].map((i) => ({
    slot_id: slots[next + i].id, start_time: clock(next + i), end_time: clock(next + i + 1), is_available: i !== 1,
  }));
  for (const response of result) {
    assert.is(response.status, 200);
    assert.equal(response.body, expected);
  }
});

test('GET /getSlotList follows the vendor\'s zone (Kiritimati vs Pago Pago)', async () => {
  const east = await makeVendor({ timezone: 'Pacific/Kiritimati' });
  const west = await makeVendor({ timezone: 'Pacific/Pago_Pago' });
  const eastGame = await makeGame(east.id);
  const westGame = await makeGame(west.id);
  const { result, locals } = await atStableHour(['Pacific/Kiritimati', 'Pacific/Pago_Pago'], () => Promise.all([
    api('GET', `/getSlotList/vendor/${east.id}/game/${eastGame.game.id}`),
    api('GET', `/getSlotList/vendor/${west.id}/game/${westGame.game.id}`),
  ]));
  const upcomingHours = (local: LocalNow) => HOURS.filter((h) => h > localHour(local)).slice(0, 6);
  assert.equal(result[0].body.map((slot: any) => slot.start_time), upcomingHours(locals[0]).map(clock));
  assert.equal(result[1].body.map((slot: any) => slot.start_time), upcomingHours(locals[1]).map(clock));
  assert.equal(result[0].body.map((slot: any) => slot.slot_id), upcomingHours(locals[0]).map((h) => eastGame.slots[h].id));
});

test('GET /getSlotList is empty when every slot today has started or the shop is closed today', async () => {
  const lateZone = zoneWhereLocalHourIs(23);
  const late = await makeVendor({ timezone: lateZone });
  const { game: lateGame } = await makeGame(late.id);
  const { result: afterLastSlot } = await atStableHour([lateZone], () => api('GET', `/getSlotList/vendor/${late.id}/game/${lateGame.id}`));
  assert.is(afterLastSlot.status, 200);
  assert.equal(afterLastSlot.body, []);

  const morningZone = zoneWhereLocalHourIs(3);
  const { result: closedToday } = await atStableHour([morningZone], async ([now]) => {
    const closed = await makeVendor({ timezone: morningZone, opening_days: WEEKDAYS.filter((day) => day !== now.weekday) });
    const { game } = await makeGame(closed.id);
    const open = await makeVendor({ timezone: morningZone, opening_days: [now.weekday] });
    const { game: openGame } = await makeGame(open.id);
    return Promise.all([
      api('GET', `/getSlotList/vendor/${closed.id}/game/${game.id}`),
      api('GET', `/getSlotList/vendor/${open.id}/game/${openGame.id}`),
    ]);
  });
  assert.is(closedToday[0].status, 200);
  assert.equal(closedToday[0].body, []);
  assert.is(closedToday[1].body.length, 6);
});

test('GET /getSlotList: another vendor\'s or unknown game → 404; bad ids → 400', async () => {
  const vendor = await makeVendor();
  const other = await makeVendor();
  const { game } = await makeGame(vendor.id);
  assertNotFound(await api('GET', `/getSlotList/vendor/${other.id}/game/${game.id}`), 'another vendor\'s game');
  assertNotFound(await api('GET', `/getSlotList/vendor/${UNKNOWN_ID}/game/${game.id}`), 'unknown vendor');
  assertNotFound(await api('GET', `/getSlotList/vendor/${vendor.id}/game/${UNKNOWN_ID}`), 'unknown game');
  for (const [vendorId, gameId] of [['x', game.id], [vendor.id, '-5'], [vendor.id, '0'], ['2147483648', game.id]]) {
    assertValidationFailed(await api('GET', `/getSlotList/vendor/${vendorId}/game/${gameId}`), `${vendorId}/${gameId}`);
  }
});

// ---------------------------------------------------------------- consoles

test('GET /getAllConsole lists the vendor\'s consoles only', async () => {
  const vendor = await makeVendor();
  const other = await makeVendor();
  const first = await Console.query().insertAndFetch({ vendor_id: vendor.id, console_number: 'C-1', model_number: 'PS5', brand: 'Sony', console_type: 'console' });
  const second = await Console.query().insertAndFetch({ vendor_id: vendor.id, console_number: 'C-2', model_number: 'Xbox Series X', brand: 'Microsoft', console_type: 'console', status: 'in_use' });
  await Console.query().insert({ vendor_id: other.id, console_number: 'C-1', model_number: 'PC', brand: 'Custom', console_type: 'pc' });
  for (const path of [`/getAllConsole/vendor/${vendor.id}`, `/api/getAllConsole/vendor/${vendor.id}`]) {
    const response = await api('GET', path);
    assert.is(response.status, 200, path);
    assert.equal(response.body, {
      consoles: [
        { id: first.id, console_number: 'C-1', model_number: 'PS5', brand: 'Sony', console_type: 'console', status: 'available' },
        { id: second.id, console_number: 'C-2', model_number: 'Xbox Series X', brand: 'Microsoft', console_type: 'console', status: 'in_use' },
      ],
    }, path);
  }
});

test('GET /getAllConsole: empty cafe, unknown vendor, malformed id', async () => {
  const vendor = await makeVendor();
  const empty = await api('GET', `/getAllConsole/vendor/${vendor.id}`);
  assert.is(empty.status, 200);
  assert.equal(empty.body, { consoles: [] });
  assertNotFound(await api('GET', `/getAllConsole/vendor/${UNKNOWN_ID}`), 'unknown vendor');
  for (const id of ['abc', '-1', '0', '3.14']) {
    assertValidationFailed(await api('GET', `/getAllConsole/vendor/${id}`), id);
  }
});

test.run();
