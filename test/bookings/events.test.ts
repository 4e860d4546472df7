import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Socket } from 'socket.io-client';
import { startRealtimeServer, RealtimeServer } from '../../src/realtime/server';
import { adminToken, api, tokenFor } from '../helpers/api';
import { dateInDays, makeUser } from '../helpers/fixtures';
import { connected, openSocket, recorder } from '../helpers/sockets';
import { assertInventoryMatches, bookingCafe, holdOrFail, makeCustomer, postHold, useWorkers } from '../helpers/bookings';

// Socket events of real booking changes (SPEC §9): the worker process publishes after commit through
// Redis, the realtime server (in this process) delivers to a real socket.io client.

useWorkers(test, 1);

let server: RealtimeServer | null = null;
test.before(async () => {
  server = await startRealtimeServer(0);
});
test.after(async () => {
  await server?.close();
  server = null;
});

const clients: Socket[] = [];
test.after.each(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

async function connect(token?: string): Promise<Socket> {
  const client = openSocket(server!.port, token === undefined ? {} : { token });
  clients.push(client);
  return connected(client);
}


test('subscribe_slots: a hold sends slot_pending with one unit fewer and the booking id; a cancel sends slot_released', async () => {
  const cafe = await bookingCafe({ total_slots: 3 });
  const slot = cafe.slots[19];
  const watcher = await connect();
  const feed = recorder(watcher, { unstamped: true });
  const otherDaySocket = await connect();
  const otherDay = recorder(otherDaySocket, { unstamped: true });
  assert.equal(await watcher.emitWithAck('subscribe_slots', { vendor_id: cafe.vendor.id, game_id: cafe.game.id, date: cafe.date.replace(/-/g, '') }), { ok: true });
  const nextDate = dateInDays(4, cafe.vendor.timezone);
  assert.equal(await otherDaySocket.emitWithAck('subscribe_slots', { vendor_id: cafe.vendor.id, game_id: cafe.game.id, date: nextDate }), { ok: true });

  const [id] = await holdOrFail(cafe, [slot.id]);
  const base = { vendor_id: cafe.vendor.id, game_id: cafe.game.id, slot_id: slot.id, date: cafe.date };
  assert.equal(await feed.waitFor('slot_pending'), { ...base, available_slot: 2, booking_id: id });

  assert.is((await api('DELETE', `/bookings/${id}`, { token: cafe.token })).status, 200);
  assert.equal(await feed.waitFor('slot_released'), { ...base, available_slot: 3 });
  assert.equal(feed.received.map((e) => e.event), ['slot_pending', 'slot_released']);

  // The other date's room heard nothing of this; a hold on its date it does hear.
  const [later] = await holdOrFail(cafe, [slot.id], cafe, nextDate);
  assert.equal(await otherDay.waitFor('slot_pending'), { ...base, date: nextDate, available_slot: 2, booking_id: later });
  assert.equal(otherDay.received.map((e) => e.event), ['slot_pending']);
  await assertInventoryMatches(cafe.game.id);
});

test('subscribe_bookings: booking_updated pending_verified, then cancelled, to the user, the cafe and admins', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const gamer = await connect(cafe.token);
  const staff = await connect(tokenFor('vendor', (await makeUser()).id, cafe.vendor.id));
  const admin = await connect(adminToken());
  const stranger = await makeCustomer();
  const other = await connect(stranger.token);
  const feeds = { gamer: recorder(gamer, { unstamped: true }), staff: recorder(staff, { unstamped: true }), admin: recorder(admin, { unstamped: true }), other: recorder(other, { unstamped: true }) };
  assert.equal(await gamer.emitWithAck('subscribe_bookings', { user_id: cafe.user.id }), { ok: true });
  assert.equal(await staff.emitWithAck('connect_vendor', { vendor_id: cafe.vendor.id }), { ok: true });
  assert.equal(await admin.emitWithAck('connect_admin'), { ok: true });
  assert.equal(await other.emitWithAck('subscribe_bookings', { user_id: stranger.user.id }), { ok: true });

  const slot = cafe.slots[11];
  const [id] = await holdOrFail(cafe, [slot.id]);
  const update = { booking_id: id, user_id: cafe.user.id, vendor_id: cafe.vendor.id, game_id: cafe.game.id, slot_id: slot.id, book_date: cafe.date };
  for (const feed of [feeds.gamer, feeds.staff, feeds.admin]) {
    assert.equal(await feed.waitFor('booking_updated', (p) => p.booking_id === id), { ...update, status: 'pending_verified' });
  }
  assert.is((await api('DELETE', `/bookings/${id}`, { token: cafe.token })).status, 200);
  for (const feed of [feeds.gamer, feeds.staff, feeds.admin]) {
    assert.equal(await feed.waitFor('booking_updated', (p) => p.booking_id === id && p.status === 'cancelled'), { ...update, status: 'cancelled' });
  }
  assert.equal(feeds.gamer.received.map((e) => [e.event, e.payload.status]), [['booking_updated', 'pending_verified'], ['booking_updated', 'cancelled']]);

  // The stranger's own hold arrives on their socket; by then anything of the first user's meant
  // for them would have arrived before it.
  const [theirs] = await holdOrFail(cafe, [slot.id], stranger);
  await feeds.other.waitFor('booking_updated', (p) => p.booking_id === theirs);
  assert.equal(feeds.other.received.map((e) => e.payload.booking_id), [theirs]);
});

test('a move sends slot_released for the old slot, slot_pending for the new one and booking_updated with the new slot', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const [from, to] = [cafe.slots[13], cafe.slots[16]];
  const gamer = await connect(cafe.token);
  const watcher = await connect();
  const feeds = { gamer: recorder(gamer, { unstamped: true }), slots: recorder(watcher, { unstamped: true }) };
  assert.equal(await gamer.emitWithAck('subscribe_bookings', { user_id: cafe.user.id }), { ok: true });
  assert.equal(await watcher.emitWithAck('subscribe_slots', { vendor_id: cafe.vendor.id, game_id: cafe.game.id, date: cafe.date }), { ok: true });

  const [id] = await holdOrFail(cafe, [from.id]);
  await feeds.slots.waitFor('slot_pending', (p) => p.slot_id === from.id);
  const moved = await api('PUT', `/bookings/${id}`, { token: cafe.token, body: { slot_id: to.id } });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  const base = { vendor_id: cafe.vendor.id, game_id: cafe.game.id, date: cafe.date };
  assert.equal(await feeds.slots.waitFor('slot_released', (p) => p.slot_id === from.id), { ...base, slot_id: from.id, available_slot: 2 });
  assert.equal(await feeds.slots.waitFor('slot_pending', (p) => p.slot_id === to.id), { ...base, slot_id: to.id, available_slot: 1, booking_id: id });
  assert.equal(await feeds.gamer.waitFor('booking_updated', (p) => p.slot_id === to.id), {
    booking_id: id, user_id: cafe.user.id, vendor_id: cafe.vendor.id, game_id: cafe.game.id, slot_id: to.id, book_date: cafe.date, status: 'pending_verified',
  });
  await assertInventoryMatches(cafe.game.id);
});

test('a refused hold publishes nothing; release_slot publishes the release', async () => {
  const cafe = await bookingCafe({ total_slots: 1 });
  const other = await makeCustomer();
  const watcher = await connect();
  const gamer = await connect(cafe.token);
  const feeds = { slots: recorder(watcher, { unstamped: true }), gamer: recorder(gamer, { unstamped: true }) };
  assert.equal(await watcher.emitWithAck('subscribe_slots', { vendor_id: cafe.vendor.id, game_id: cafe.game.id, date: cafe.date }), { ok: true });
  assert.equal(await gamer.emitWithAck('subscribe_bookings', { user_id: cafe.user.id }), { ok: true });

  const [blocker] = await holdOrFail(cafe, [cafe.slots[5].id], other);
  await feeds.slots.waitFor('slot_pending', (p) => p.booking_id === blocker);
  const refused = await postHold(cafe.token, { slot_id: [cafe.slots[4].id, cafe.slots[5].id], user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date });
  assert.is(refused.status, 409);

  const [mine] = await holdOrFail(cafe, [cafe.slots[6].id]);
  await feeds.gamer.waitFor('booking_updated', (p) => p.booking_id === mine);
  const released = await api('POST', '/release_slot', { token: cafe.token, body: { bookings: [{ booking_id: mine }] } });
  assert.is(released.status, 200, JSON.stringify(released.body));
  assert.equal(await feeds.slots.waitFor('slot_released', (p) => p.slot_id === cafe.slots[6].id), {
    vendor_id: cafe.vendor.id, game_id: cafe.game.id, slot_id: cafe.slots[6].id, date: cafe.date, available_slot: 1,
  });
  await feeds.gamer.waitFor('booking_updated', (p) => p.booking_id === mine && p.status === 'cancelled');
  // Events of one room arrive in order, so the refused request would show up before these.
  assert.equal(feeds.slots.received.map((e) => [e.event, e.payload.slot_id]), [
    ['slot_pending', cafe.slots[5].id], ['slot_pending', cafe.slots[6].id], ['slot_released', cafe.slots[6].id],
  ]);
  assert.equal(feeds.gamer.received.map((e) => [e.payload.booking_id, e.payload.status]), [[mine, 'pending_verified'], [mine, 'cancelled']]);
  await assertInventoryMatches(cafe.game.id);
});

test.run();
