import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'crypto';
import { api, adminToken, tokenFor } from '../helpers/api';
import { dateInDays, makeGame, makeUser, makeVendor } from '../helpers/fixtures';
import { db } from '../../src/db/knex';

const ALL_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

const vendorToken = (vendorId: number) => tokenFor('vendor', 9000 + vendorId, vendorId);
const userToken = () => tokenFor('user', 424242);

/** No token → 401, a user → 403, the vendor of another cafe → 403. */
async function assertOnlyCafeOrAdmin(method: string, path: string, body: unknown, otherVendorId: number): Promise<void> {
  const anonymous = await api(method, path, { body });
  assert.is(anonymous.status, 401, `${method} ${path} without a token`);
  assert.is(anonymous.body.code, 'unauthenticated');
  const asUser = await api(method, path, { body, token: userToken() });
  assert.is(asUser.status, 403, `${method} ${path} as a user`);
  assert.is(asUser.body.code, 'forbidden');
  const asOtherCafe = await api(method, path, { body, token: vendorToken(otherVendorId) });
  assert.is(asOtherCafe.status, 403, `${method} ${path} as another cafe`);
  assert.is(asOtherCafe.body.code, 'forbidden');
}

async function createGamingType(): Promise<number> {
  const [row] = await db('gaming_types').insert({ name: `Type ${randomUUID()}`, description: 'test' }).returning('id');
  return row.id;
}

async function gameRow(gameId: number) {
  return db('games').where('id', gameId).first();
}

async function inventoryOf(gameId: number) {
  return db('slot_inventory').where('game_id', gameId).orderBy(['book_date', 'slot_id']).select('slot_id', 'book_date', 'capacity', 'available');
}

// --- vendors -----------------------------------------------------------------------------------

test('POST /vendors creates the vendor and its two partitions', async () => {
  const response = await api('POST', '/vendors', { token: adminToken(), body: { cafe_name: 'Pixel Arena' } });
  assert.is(response.status, 201);
  const { id } = response.body;
  assert.ok(Number.isInteger(id) && id > 0);
  assert.equal(response.body, { id, cafe_name: 'Pixel Arena', timezone: 'Asia/Kolkata', opening_days: ALL_DAYS });

  // The seed's unquoted spelling folds to the partition's lower-case name.
  const dashboard = await db.raw(`SELECT * FROM VENDOR_${id}_DASHBOARD`);
  assert.is(dashboard.rows.length, 0);
  const promo = await db.raw(`SELECT * FROM VENDOR_${id}_PROMO_DETAIL`);
  assert.is(promo.rows.length, 0);
  const partitions = await db.raw(
    `SELECT child.relname AS child, parent.relname AS parent FROM pg_inherits
       JOIN pg_class child ON child.oid = pg_inherits.inhrelid
       JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
      WHERE child.relname IN (?, ?) ORDER BY child.relname`,
    [`vendor_${id}_dashboard`, `vendor_${id}_promo_detail`],
  );
  assert.equal(partitions.rows, [
    { child: `vendor_${id}_dashboard`, parent: 'vendor_dashboard' },
    { child: `vendor_${id}_promo_detail`, parent: 'vendor_promo_detail' },
  ]);

  const read = await api('GET', `/vendors/${id}`);
  assert.is(read.status, 200);
  assert.equal(read.body, response.body);
});

test('POST /vendors canonicalises the time zone and orders opening days', async () => {
  const response = await api('POST', '/api/vendors', {
    token: adminToken(),
    body: { cafe_name: '  Night Owls  ', timezone: 'america/new_york', opening_days: ['sun', 'fri', 'sat'] },
  });
  assert.is(response.status, 201);
  assert.equal(response.body, { id: response.body.id, cafe_name: 'Night Owls', timezone: 'America/New_York', opening_days: ['fri', 'sat', 'sun'] });
  const stored = await db('vendors').where('id', response.body.id).first();
  assert.is(stored.timezone, 'America/New_York');
  assert.equal(stored.opening_days, ['fri', 'sat', 'sun']);
});

test('POST /vendors refuses bad zones and days and writes nothing', async () => {
  const before = (await db('vendors').count('* as count').first())!.count;
  for (const body of [
    { cafe_name: 'X', timezone: 'Mars/Olympus_Mons' },
    { cafe_name: 'X', timezone: '' },
    { cafe_name: 'X', opening_days: ['mon', 'mon'] },
    { cafe_name: 'X', opening_days: ['funday'] },
    { cafe_name: 'X', opening_days: 'mon' },
    { cafe_name: '   ' },
    { cafe_name: '' },
    {},
  ]) {
    const response = await api('POST', '/vendors', { token: adminToken(), body });
    assert.is(response.status, 400, JSON.stringify(body));
    assert.is(response.body.code, 'validation_failed');
  }
  const zone = await api('POST', '/vendors', { token: adminToken(), body: { cafe_name: 'X', timezone: 'Mars/Olympus_Mons' } });
  assert.match(zone.body.message, /time zone/);
  assert.is((await db('vendors').count('* as count').first())!.count, before);
});

test('POST /vendors is admin only', async () => {
  const vendor = await makeVendor();
  const body = { cafe_name: 'Sneaky' };
  assert.is((await api('POST', '/vendors', { body })).status, 401);
  assert.is((await api('POST', '/vendors', { body, token: userToken() })).status, 403);
  assert.is((await api('POST', '/vendors', { body, token: vendorToken(vendor.id) })).status, 403);
  assert.is((await db('vendors').where('cafe_name', 'Sneaky').count('* as count').first())!.count, 0);
});

test('GET /vendors/:id is public; unknown vendor is 404', async () => {
  const vendor = await makeVendor({ timezone: 'Europe/London', opening_days: ['sat', 'sun'] });
  const response = await api('GET', `/vendors/${vendor.id}`);
  assert.is(response.status, 200);
  assert.equal(response.body, { id: vendor.id, cafe_name: vendor.cafe_name, timezone: 'Europe/London', opening_days: ['sat', 'sun'] });
  const missing = await api('GET', '/vendors/2147483647');
  assert.is(missing.status, 404);
  assert.is(missing.body.code, 'not_found');
});

test('PUT /vendors/:id/opening-days: own cafe or admin', async () => {
  const vendor = await makeVendor();
  const other = await makeVendor();
  const path = `/vendors/${vendor.id}/opening-days`;
  await assertOnlyCafeOrAdmin('PUT', path, { opening_days: ['mon'] }, other.id);
  assert.equal((await db('vendors').where('id', vendor.id).first()).opening_days, ALL_DAYS);

  const own = await api('PUT', path, { token: vendorToken(vendor.id), body: { opening_days: ['wed', 'mon'] } });
  assert.is(own.status, 200);
  assert.equal(own.body, { id: vendor.id, cafe_name: vendor.cafe_name, timezone: 'Asia/Kolkata', opening_days: ['mon', 'wed'] });

  const byAdmin = await api('PUT', path, { token: adminToken(), body: { opening_days: [] } });
  assert.is(byAdmin.status, 200);
  assert.equal(byAdmin.body.opening_days, []);
  assert.equal((await db('vendors').where('id', vendor.id).first()).opening_days, []);

  const invalid = await api('PUT', path, { token: adminToken(), body: { opening_days: ['mon', 'noday'] } });
  assert.is(invalid.status, 400);
  const missing = await api('PUT', '/vendors/2147483647/opening-days', { token: adminToken(), body: { opening_days: ['mon'] } });
  assert.is(missing.status, 404);
});

// --- games -------------------------------------------------------------------------------------

test('POST /vendors/:id/games with a slot list answers the game with its slots', async () => {
  const vendor = await makeVendor();
  const response = await api('POST', `/vendors/${vendor.id}/games`, {
    token: vendorToken(vendor.id),
    body: {
      game_name: 'FIFA 25 on PS5',
      total_slots: 4,
      single_slot_price: 500,
      slots: [{ start_time: '20:00', end_time: '21:00' }, { start_time: '19:00', end_time: '20:00:00' }],
    },
  });
  assert.is(response.status, 201);
  const { id, slots } = response.body;
  assert.is(slots.length, 2);
  assert.equal(response.body, {
    id,
    vendor_id: vendor.id,
    game_name: 'FIFA 25 on PS5',
    gaming_type_id: null,
    total_slots: 4,
    single_slot_price: 500,
    slots: [
      { id: slots[0].id, start_time: '19:00:00', end_time: '20:00:00' },
      { id: slots[1].id, start_time: '20:00:00', end_time: '21:00:00' },
    ],
  });
  assert.is((await gameRow(id)).single_slot_price_paise, 50000);
  const stored = await db('slots').where('game_id', id).orderBy('start_time').select('id', 'start_time', 'end_time');
  assert.equal(stored, slots);
});

test('POST /vendors/:id/games with opening hours generates slots; a gaming type is linked', async () => {
  const vendor = await makeVendor();
  const gamingTypeId = await createGamingType();
  const response = await api('POST', `/vendors/${vendor.id}/games`, {
    token: adminToken(),
    body: { game_name: 'High-end PC', gaming_type_id: gamingTypeId, total_slots: 10, single_slot_price: 0, slots: { open: '10:00', close: '13:30', minutes: 60 } },
  });
  assert.is(response.status, 201);
  assert.is(response.body.gaming_type_id, gamingTypeId);
  assert.is(response.body.single_slot_price, 0);
  assert.equal(response.body.slots.map((slot: any) => [slot.start_time, slot.end_time]), [
    ['10:00:00', '11:00:00'],
    ['11:00:00', '12:00:00'],
    ['12:00:00', '13:00:00'],
  ]);

  const noSlots = await api('POST', `/vendors/${vendor.id}/games`, {
    token: adminToken(),
    body: { game_name: 'Later', total_slots: 1, single_slot_price: 100 },
  });
  assert.is(noSlots.status, 201);
  assert.equal(noSlots.body.slots, []);
});

test('POST /vendors/:id/games refuses overlaps, backwards slots and unknown types, writing nothing', async () => {
  const vendor = await makeVendor();
  const path = `/vendors/${vendor.id}/games`;
  const base = { game_name: 'PS5', total_slots: 2, single_slot_price: 300 };

  const overlap = await api('POST', path, {
    token: adminToken(),
    body: { ...base, slots: [{ start_time: '10:00', end_time: '11:00' }, { start_time: '10:30', end_time: '11:30' }] },
  });
  assert.is(overlap.status, 409);
  assert.is(overlap.body.code, 'duplicate');

  const sameStart = await api('POST', path, {
    token: adminToken(),
    body: { ...base, slots: [{ start_time: '10:00', end_time: '11:00' }, { start_time: '10:00', end_time: '10:30' }] },
  });
  assert.is(sameStart.status, 409);

  for (const slots of [
    [{ start_time: '11:00', end_time: '10:00' }],
    [{ start_time: '11:00', end_time: '11:00' }],
    { open: '22:00', close: '10:00', minutes: 60 },
    { open: '10:00', close: '10:30', minutes: 60 },
    [{ start_time: '24:00', end_time: '25:00' }],
  ]) {
    const response = await api('POST', path, { token: adminToken(), body: { ...base, slots } });
    assert.is(response.status, 400, JSON.stringify(slots));
    assert.is(response.body.code, 'validation_failed');
  }

  const unknownType = await api('POST', path, { token: adminToken(), body: { ...base, gaming_type_id: 2147483647 } });
  assert.is(unknownType.status, 404);
  assert.is(unknownType.body.message, 'Gaming type not found');

  assert.is((await db('games').where('vendor_id', vendor.id).count('* as count').first())!.count, 0);

  const unknownVendor = await api('POST', '/vendors/2147483647/games', { token: adminToken(), body: base });
  assert.is(unknownVendor.status, 404);
  assert.is(unknownVendor.body.message, 'Vendor not found');
});

test('POST /vendors/:id/games: own cafe or admin', async () => {
  const vendor = await makeVendor();
  const other = await makeVendor();
  const body = { game_name: 'Xbox', total_slots: 1, single_slot_price: 200 };
  await assertOnlyCafeOrAdmin('POST', `/vendors/${vendor.id}/games`, body, other.id);
  assert.is((await db('games').where('vendor_id', vendor.id).count('* as count').first())!.count, 0);
  assert.is((await api('POST', `/vendors/${vendor.id}/games`, { token: vendorToken(vendor.id), body })).status, 201);
  assert.is((await api('POST', `/vendors/${vendor.id}/games`, { token: adminToken(), body })).status, 201);
});

test('PATCH /games/:id changes the price; roles are checked', async () => {
  const vendor = await makeVendor();
  const other = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { total_slots: 3, price_rupees: 500, slots: [['10:00', '11:00']] });
  const path = `/games/${game.id}`;
  await assertOnlyCafeOrAdmin('PATCH', path, { single_slot_price: 1 }, other.id);

  const own = await api('PATCH', path, { token: vendorToken(vendor.id), body: { single_slot_price: 650 } });
  assert.is(own.status, 200);
  assert.equal(own.body, {
    id: game.id,
    vendor_id: vendor.id,
    game_name: game.game_name,
    gaming_type_id: null,
    total_slots: 3,
    single_slot_price: 650,
    slots: [{ id: slots[0].id, start_time: '10:00:00', end_time: '11:00:00' }],
  });
  assert.is((await gameRow(game.id)).single_slot_price_paise, 65000);

  const byAdmin = await api('PATCH', path, { token: adminToken(), body: { single_slot_price: 700, total_slots: 5 } });
  assert.is(byAdmin.status, 200);
  assert.is(byAdmin.body.single_slot_price, 700);
  assert.is(byAdmin.body.total_slots, 5);

  assert.is((await api('PATCH', path, { token: adminToken(), body: {} })).status, 400);
  assert.is((await api('PATCH', '/games/2147483647', { token: adminToken(), body: { total_slots: 2 } })).status, 404);
});

test('PATCH /games/:id capacity moves today and future inventory by the delta, leaves the past alone', async () => {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { total_slots: 3, slots: [['10:00', '11:00'], ['11:00', '12:00']] });
  const [yesterday, today, nextWeek] = [dateInDays(-1), dateInDays(0), dateInDays(7)];
  await db('slot_inventory').insert([
    { slot_id: slots[0].id, book_date: yesterday, game_id: game.id, capacity: 3, available: 0 },
    { slot_id: slots[0].id, book_date: today, game_id: game.id, capacity: 3, available: 1 },
    { slot_id: slots[1].id, book_date: nextWeek, game_id: game.id, capacity: 3, available: 3 },
  ]);

  const raised = await api('PATCH', `/games/${game.id}`, { token: adminToken(), body: { total_slots: 5 } });
  assert.is(raised.status, 200);
  assert.is(raised.body.total_slots, 5);
  assert.equal(await inventoryOf(game.id), [
    { slot_id: slots[0].id, book_date: yesterday, capacity: 3, available: 0 },
    { slot_id: slots[0].id, book_date: today, capacity: 5, available: 3 },
    { slot_id: slots[1].id, book_date: nextWeek, capacity: 5, available: 5 },
  ]);

  // Two units are taken today, so 2 is the lowest capacity allowed; yesterday's sold-out row does not count.
  const cut = await api('PATCH', `/games/${game.id}`, { token: vendorToken(vendor.id), body: { total_slots: 2 } });
  assert.is(cut.status, 200);
  assert.equal(await inventoryOf(game.id), [
    { slot_id: slots[0].id, book_date: yesterday, capacity: 3, available: 0 },
    { slot_id: slots[0].id, book_date: today, capacity: 2, available: 0 },
    { slot_id: slots[1].id, book_date: nextWeek, capacity: 2, available: 2 },
  ]);
  assert.is((await gameRow(game.id)).total_slots, 2);
});

test('PATCH /games/:id refuses a capacity cut below what a future date holds, changing nothing', async () => {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { total_slots: 4, price_rupees: 500, slots: [['10:00', '11:00']] });
  const tomorrow = dateInDays(1);
  await db('slot_inventory').insert({ slot_id: slots[0].id, book_date: tomorrow, game_id: game.id, capacity: 4, available: 1 });

  const response = await api('PATCH', `/games/${game.id}`, { token: adminToken(), body: { total_slots: 2, single_slot_price: 900 } });
  assert.is(response.status, 409);
  assert.is(response.body.code, 'invalid_state');
  assert.equal(response.body.details.slots, [{ slot_id: slots[0].id, book_date: tomorrow, taken: 3 }]);
  const stored = await gameRow(game.id);
  assert.is(stored.total_slots, 4);
  assert.is(stored.single_slot_price_paise, 50000);
  assert.equal(await inventoryOf(game.id), [{ slot_id: slots[0].id, book_date: tomorrow, capacity: 4, available: 1 }]);

  const exact = await api('PATCH', `/games/${game.id}`, { token: adminToken(), body: { total_slots: 3 } });
  assert.is(exact.status, 200);
  assert.equal(await inventoryOf(game.id), [{ slot_id: slots[0].id, book_date: tomorrow, capacity: 3, available: 0 }]);
});

test('concurrent capacity changes leave game and inventory agreeing', async () => {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { total_slots: 3, slots: [['10:00', '11:00'], ['12:00', '13:00']] });
  await db('slot_inventory').insert([
    { slot_id: slots[0].id, book_date: dateInDays(1), game_id: game.id, capacity: 3, available: 2 },
    { slot_id: slots[1].id, book_date: dateInDays(2), game_id: game.id, capacity: 3, available: 0 },
  ]);
  const capacities = [7, 4, 9, 3, 6, 8, 5, 10];
  const responses = await Promise.all(capacities.map((total_slots) =>
    api('PATCH', `/games/${game.id}`, { token: adminToken(), body: { total_slots } })));
  assert.equal(responses.map((response) => response.status), capacities.map(() => 200));
  const finalCapacity = (await gameRow(game.id)).total_slots;
  assert.ok(capacities.includes(finalCapacity));
  assert.equal(await inventoryOf(game.id), [
    { slot_id: slots[0].id, book_date: dateInDays(1), capacity: finalCapacity, available: finalCapacity - 1 },
    { slot_id: slots[1].id, book_date: dateInDays(2), capacity: finalCapacity, available: finalCapacity - 3 },
  ]);
});

// --- slots -------------------------------------------------------------------------------------

test('POST /games/:id/slots adds a slot; overlaps are 409, touching is fine', async () => {
  const vendor = await makeVendor();
  const gamingTypeId = await createGamingType();
  const created = await api('POST', `/vendors/${vendor.id}/games`, {
    token: adminToken(),
    body: { game_name: 'VR', gaming_type_id: gamingTypeId, total_slots: 2, single_slot_price: 400, slots: [{ start_time: '10:00', end_time: '11:00' }] },
  });
  const gameId = created.body.id;
  const existingSlotId = created.body.slots[0].id;

  const added = await api('POST', `/games/${gameId}/slots`, { token: vendorToken(vendor.id), body: { start_time: '11:00', end_time: '12:30' } });
  assert.is(added.status, 201);
  assert.equal(added.body, { id: added.body.id, start_time: '11:00:00', end_time: '12:30:00', gaming_type_id: gamingTypeId, game_id: gameId });
  const listed = await db('slots').where('id', added.body.id).first();
  assert.equal([listed.game_id, listed.start_time, listed.end_time], [gameId, '11:00:00', '12:30:00']);

  const overlap = await api('POST', `/games/${gameId}/slots`, { token: adminToken(), body: { start_time: '09:30', end_time: '10:30' } });
  assert.is(overlap.status, 409);
  assert.is(overlap.body.code, 'duplicate');
  assert.equal(overlap.body.details, { overlapping_slot_ids: [existingSlotId] });

  const spanning = await api('POST', `/games/${gameId}/slots`, { token: adminToken(), body: { start_time: '09:00', end_time: '13:00' } });
  assert.is(spanning.status, 409);
  assert.equal(spanning.body.details.overlapping_slot_ids, [existingSlotId, added.body.id]);

  const backwards = await api('POST', `/games/${gameId}/slots`, { token: adminToken(), body: { start_time: '15:00', end_time: '14:00' } });
  assert.is(backwards.status, 400);
  assert.is((await db('slots').where('game_id', gameId).count('* as count').first())!.count, 2);

  assert.is((await api('POST', '/games/2147483647/slots', { token: adminToken(), body: { start_time: '15:00', end_time: '16:00' } })).status, 404);
});

test('POST /games/:id/slots: concurrent overlapping inserts, exactly one wins', async () => {
  const vendor = await makeVendor();
  const { game } = await makeGame(vendor.id, { slots: [] });
  // Different start times, so only the per-game lock (not the unique index) can stop the losers.
  const windows = Array.from({ length: 10 }, (_, index) => ({
    start_time: `10:${String(index * 5).padStart(2, '0')}`,
    end_time: `11:${String(index * 5).padStart(2, '0')}`,
  }));
  const responses = await Promise.all(windows.map((body) => api('POST', `/games/${game.id}/slots`, { token: adminToken(), body })));
  const statuses = responses.map((response) => response.status).sort();
  assert.equal(statuses, [201, ...Array(9).fill(409)]);
  const stored = await db('slots').where('game_id', game.id).select('id');
  assert.equal(stored.map((row) => row.id), [responses.find((response) => response.status === 201)!.body.id]);
});

test('POST /games/:id/slots: own cafe or admin', async () => {
  const vendor = await makeVendor();
  const other = await makeVendor();
  const { game } = await makeGame(vendor.id, { slots: [] });
  await assertOnlyCafeOrAdmin('POST', `/games/${game.id}/slots`, { start_time: '10:00', end_time: '11:00' }, other.id);
  assert.is((await db('slots').where('game_id', game.id).count('* as count').first())!.count, 0);
  assert.is((await api('POST', `/games/${game.id}/slots`, { token: adminToken(), body: { start_time: '10:00', end_time: '11:00' } })).status, 201);
});

// --- consoles ----------------------------------------------------------------------------------

test('POST /vendors/:id/consoles links the cafe games; PATCH /consoles/:id sets the status', async () => {
  const vendor = await makeVendor();
  const first = await makeGame(vendor.id, { slots: [] });
  const second = await makeGame(vendor.id, { slots: [] });
  const response = await api('POST', `/vendors/${vendor.id}/consoles`, {
    token: vendorToken(vendor.id),
    body: { console_number: 'PS5-01', model_number: 'CFI-1216A', brand: 'Sony', console_type: 'PS5', game_ids: [second.game.id, first.game.id] },
  });
  assert.is(response.status, 201);
  const id = response.body.id;
  assert.equal(response.body, {
    id,
    console_number: 'PS5-01',
    model_number: 'CFI-1216A',
    brand: 'Sony',
    console_type: 'PS5',
    status: 'available',
    game_ids: [first.game.id, second.game.id].sort((a, b) => a - b),
  });
  const links = await db('console_games').where('console_id', id).orderBy('game_id').pluck('game_id');
  assert.equal(links, response.body.game_ids);

  const patched = await api('PATCH', `/consoles/${id}`, { token: vendorToken(vendor.id), body: { status: 'maintenance' } });
  assert.is(patched.status, 200);
  assert.equal(patched.body, { ...response.body, status: 'maintenance' });
  assert.is((await db('consoles').where('id', id).first()).status, 'maintenance');

  const byAdmin = await api('PATCH', `/consoles/${id}`, { token: adminToken(), body: { status: 'in_use' } });
  assert.is(byAdmin.status, 200);
  assert.is(byAdmin.body.status, 'in_use');

  const badStatus = await api('PATCH', `/consoles/${id}`, { token: adminToken(), body: { status: 'broken' } });
  assert.is(badStatus.status, 400);
  assert.is((await db('consoles').where('id', id).first()).status, 'in_use');
  assert.is((await api('PATCH', '/consoles/2147483647', { token: adminToken(), body: { status: 'available' } })).status, 404);
});

test('POST /vendors/:id/consoles: games of another cafe are 404, duplicates 409, nothing half-written', async () => {
  const vendor = await makeVendor();
  const other = await makeVendor();
  const own = await makeGame(vendor.id, { slots: [] });
  const foreign = await makeGame(other.id, { slots: [] });
  const path = `/vendors/${vendor.id}/consoles`;
  const base = { console_number: '7', model_number: 'Series X', brand: 'Microsoft', console_type: 'Xbox' };

  const foreignGame = await api('POST', path, { token: adminToken(), body: { ...base, game_ids: [own.game.id, foreign.game.id] } });
  assert.is(foreignGame.status, 404);
  assert.is(foreignGame.body.code, 'not_found');
  assert.equal(foreignGame.body.details, { missing_game_ids: [foreign.game.id] });
  const unknownGame = await api('POST', path, { token: adminToken(), body: { ...base, game_ids: [2147483647] } });
  assert.is(unknownGame.status, 404);
  assert.is((await db('consoles').where('vendor_id', vendor.id).count('* as count').first())!.count, 0);

  const created = await api('POST', path, { token: adminToken(), body: { ...base, game_ids: [own.game.id] } });
  assert.is(created.status, 201);
  const duplicate = await api('POST', path, { token: adminToken(), body: { ...base, game_ids: [own.game.id], model_number: 'Other' } });
  assert.is(duplicate.status, 409);
  assert.is(duplicate.body.code, 'duplicate');
  assert.is((await db('consoles').where('vendor_id', vendor.id).count('* as count').first())!.count, 1);
  assert.is((await db('console_games').where('game_id', own.game.id).count('* as count').first())!.count, 1);

  const sameNumberElsewhere = await api('POST', `/vendors/${other.id}/consoles`, { token: vendorToken(other.id), body: base });
  assert.is(sameNumberElsewhere.status, 201);
  assert.equal(sameNumberElsewhere.body.game_ids, []);

  const racing = await Promise.all(Array.from({ length: 5 }, () => api('POST', path, { token: adminToken(), body: { ...base, console_number: 'race' } })));
  assert.equal(racing.map((response) => response.status).sort(), [201, 409, 409, 409, 409]);
});

test('consoles: own cafe or admin', async () => {
  const vendor = await makeVendor();
  const other = await makeVendor();
  const body = { console_number: 'PC-1', model_number: 'Custom', brand: 'Asus', console_type: 'PC' };
  await assertOnlyCafeOrAdmin('POST', `/vendors/${vendor.id}/consoles`, body, other.id);
  assert.is((await db('consoles').where('vendor_id', vendor.id).count('* as count').first())!.count, 0);
  const created = await api('POST', `/vendors/${vendor.id}/consoles`, { token: adminToken(), body });
  assert.is(created.status, 201);
  await assertOnlyCafeOrAdmin('PATCH', `/consoles/${created.body.id}`, { status: 'in_use' }, other.id);
  assert.is((await db('consoles').where('id', created.body.id).first()).status, 'available');
});

// --- users -------------------------------------------------------------------------------------

test('POST /users (admin) creates a user; emails are unique regardless of case', async () => {
  const email = `Riya.${randomUUID().slice(0, 8)}@Example.com`;
  const response = await api('POST', '/users', { token: adminToken(), body: { name: 'Riya', email, phone: '+91 98000 12345' } });
  assert.is(response.status, 201);
  assert.equal(response.body, { id: response.body.id, name: 'Riya', email, phone: '+91 98000 12345' });

  const duplicate = await api('POST', '/users', { token: adminToken(), body: { name: 'Other', email: email.toLowerCase(), phone: '9800000000' } });
  assert.is(duplicate.status, 409);
  assert.is(duplicate.body.code, 'duplicate');
  assert.is((await db('users').whereRaw('lower(email) = lower(?)', [email]).count('* as count').first())!.count, 1);

  for (const body of [
    { name: 'A', email: 'not-an-email', phone: '9800000000' },
    { name: 'A', email: 'a@b', phone: '9800000000' },
    { name: 'A', email: 'a b@c.d', phone: '9800000000' },
    { name: 'A', email: `ok.${randomUUID()}@x.in`, phone: 'call me' },
    { name: '', email: `ok.${randomUUID()}@x.in`, phone: '9800000000' },
    { name: 'A', email: `ok.${randomUUID()}@x.in` },
  ]) {
    const invalid = await api('POST', '/users', { token: adminToken(), body });
    assert.is(invalid.status, 400, JSON.stringify(body));
  }
});

test('POST /users is admin only', async () => {
  const vendor = await makeVendor();
  const email = `nobody.${randomUUID()}@example.com`;
  const body = { name: 'Nobody', email, phone: '9800000000' };
  assert.is((await api('POST', '/users', { body })).status, 401);
  assert.is((await api('POST', '/users', { body, token: userToken() })).status, 403);
  assert.is((await api('POST', '/users', { body, token: vendorToken(vendor.id) })).status, 403);
  assert.is((await db('users').where('email', email).count('* as count').first())!.count, 0);
});

test('GET /users/:id: the user themself or admin', async () => {
  const user = await makeUser({ name: 'Kabir' });
  const vendor = await makeVendor();
  const expected = { id: user.id, name: 'Kabir', email: user.email, phone: user.phone };

  const self = await api('GET', `/users/${user.id}`, { token: tokenFor('user', user.id) });
  assert.is(self.status, 200);
  assert.equal(self.body, expected);
  const byAdmin = await api('GET', `/users/${user.id}`, { token: adminToken() });
  assert.equal([byAdmin.status, byAdmin.body], [200, expected]);

  assert.is((await api('GET', `/users/${user.id}`)).status, 401);
  const otherUser = await api('GET', `/users/${user.id}`, { token: tokenFor('user', user.id + 1) });
  assert.is(otherUser.status, 403);
  assert.is(otherUser.body.code, 'forbidden');
  assert.is((await api('GET', `/users/${user.id}`, { token: tokenFor('vendor', user.id + 1, vendor.id) })).status, 403);

  const missing = await api('GET', '/users/2147483647', { token: adminToken() });
  assert.is(missing.status, 404);
  assert.is(missing.body.code, 'not_found');
});

test.run();
