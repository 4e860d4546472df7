import { test } from 'uvu';
import * as assert from 'uvu/assert';
import jwt from 'jsonwebtoken';
import { config } from '../../src/config';
import { Socket } from 'socket.io-client';
import { startRealtimeServer, RealtimeServer } from '../../src/realtime/server';
import { closePublisher, PublishedEvent, publishEvents } from '../../src/realtime/publish';
import { adminToken, tokenFor } from '../helpers/api';
import { makeGame, makeVendor } from '../helpers/fixtures';
import { onTestsDone } from '../helpers/resources';
import { connected, openSocket, recorder } from '../helpers/sockets';

// A real socket.io server in this process (port 0) with its Redis adapter, real socket.io clients,
// and the same Redis emitter the workers use.

onTestsDone(closePublisher);

const servers: Promise<RealtimeServer>[] = [];

function realtimeServer(index = 0): Promise<RealtimeServer> {
  if (!servers[index]) {
    servers[index] = startRealtimeServer(0);
    const started = servers[index];
    onTestsDone(async () => (await started).close());
  }
  return servers[index];
}

const openClients: Socket[] = [];
test.after.each(() => {
  for (const client of openClients.splice(0)) client.disconnect();
});

async function connect(token?: string, serverIndex = 0): Promise<Socket> {
  const { port } = await realtimeServer(serverIndex);
  const client = openSocket(port, token === undefined ? {} : { token });
  openClients.push(client);
  return connected(client);
}

async function refusedHandshake(auth: Record<string, unknown>): Promise<string> {
  const { port } = await realtimeServer();
  const client = openSocket(port, auth);
  openClients.push(client);
  return new Promise((resolve, reject) => {
    client.once('connect', () => reject(new Error('handshake was accepted')));
    client.once('connect_error', (error) => resolve(error.message));
  });
}

let nextId = 900_000 + Math.floor(Math.random() * 90_000);
const freshId = () => nextId++;

/** Publishes as the outbox relay does; returns what a client must receive: the payload and its stamp, nothing else. */
function publish<K extends PublishedEvent['kind']>(kind: K, payload: Extract<PublishedEvent, { kind: K }>['payload'], extra: object = {}) {
  const stamp = { event_id: `event-${freshId()}`, occurred_at: new Date().toISOString() };
  void publishEvents([{ event: { kind, payload: { ...payload, ...extra } } as PublishedEvent, stamp }]);
  return { ...payload, ...stamp };
}

/** A cafe with two games, for slot subscriptions (the realtime process checks the game is the cafe's). */
async function cafeWithGames(): Promise<{ vendorId: number; gameIds: [number, number] }> {
  const vendor = await makeVendor();
  const [first, second] = [await makeGame(vendor.id), await makeGame(vendor.id)];
  return { vendorId: vendor.id, gameIds: [first.game.id, second.game.id] };
}

test('subscribe_slots is public and accepts both date spellings', async () => {
  const { vendorId, gameIds: [gameId] } = await cafeWithGames();
  const anonymous = await connect();
  assert.equal(await anonymous.emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: gameId, date: '20261124' }), { ok: true });
  assert.equal(await anonymous.emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: gameId, date: '2026-11-25' }), { ok: true });
});

test('subscribe_slots refuses a game of another cafe, an unknown game and an unknown cafe', async () => {
  const mine = await cafeWithGames();
  const theirs = await cafeWithGames();
  const client = await connect();
  const refusals: Array<[object, RegExp]> = [
    [{ vendor_id: mine.vendorId, game_id: theirs.gameIds[0], date: '2026-11-24' }, /is not a game of cafe/],
    [{ vendor_id: mine.vendorId, game_id: 2147483647, date: '2026-11-24' }, /not found/],
    [{ vendor_id: 2147483647, game_id: mine.gameIds[0], date: '2026-11-24' }, /is not a game of cafe/],
  ];
  for (const [payload, message] of refusals) {
    const answer = await client.emitWithAck('subscribe_slots', payload);
    assert.is(answer.ok, false, `${JSON.stringify(payload)} was accepted`);
    assert.match(answer.message, message);
  }
  // Refused subscriptions joined nothing: a slot event of the foreign game does not reach it.
  const feed = recorder(client);
  const watcher = await connect();
  const watcherFeed = recorder(watcher);
  assert.equal(await watcher.emitWithAck('subscribe_slots', { vendor_id: theirs.vendorId, game_id: theirs.gameIds[0], date: '2026-11-24' }), { ok: true });
  const seen = publish('slot_released', { vendor_id: theirs.vendorId, game_id: theirs.gameIds[0], slot_id: 1, date: '2026-11-24', available_slot: 2 });
  assert.equal(await watcherFeed.waitFor('slot_released'), seen);
  assert.equal(feed.received, []);
});

test('ping_health answers pong_health with the nonce and the server clock, and acks', async () => {
  const client = await connect();
  const feed = recorder(client);
  const before = Date.now();
  assert.equal(await client.emitWithAck('ping_health', { nonce: 'n-1' }), { ok: true });
  const pong = await feed.waitFor('pong_health');
  assert.equal(Object.keys(pong).sort(), ['nonce', 'server_ts', 'status']);
  assert.is(pong.status, 'ok');
  assert.is(pong.nonce, 'n-1');
  assert.ok(pong.server_ts >= before - 1000 && pong.server_ts <= Date.now() + 1000, `server_ts ${pong.server_ts}`);
  assert.equal(await client.emitWithAck('ping_health', { nonce: 7 }), { ok: true });
  assert.is((await feed.waitFor('pong_health', (p) => p.nonce === 7)).status, 'ok');
  const refused = await client.emitWithAck('ping_health', { nonce: { deep: true } });
  assert.is(refused.ok, false);
  assert.type(refused.message, 'string');
});

test('a connection joins at most 50 rooms: the 51st is refused, its own id room not counted, a repeat always fine', async () => {
  const { vendorId, gameIds: [gameId] } = await cafeWithGames();
  const userId = freshId();
  const client = await connect(tokenFor('user', userId));
  const dates = Array.from({ length: 49 }, (_, day) => new Date(Date.UTC(2027, 0, 1 + day)).toISOString().slice(0, 10));
  assert.equal(await client.emitWithAck('subscribe_bookings', { user_id: userId }), { ok: true });
  for (const date of dates) assert.equal(await client.emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: gameId, date }), { ok: true }, date);
  const refused = await client.emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: gameId, date: '2027-06-01' });
  assert.equal(refused, { ok: false, message: 'A connection may join at most 50 rooms' });
  // Past the limit a subscription is refused before the database is asked: even an unknown game
  // gets the limit's answer, not "not found" (a flood at the limit costs no queries).
  assert.equal(await client.emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: 2_000_000_000, date: '2027-06-01' }),
    { ok: false, message: 'A connection may join at most 50 rooms' });
  assert.equal(await client.emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: gameId, date: dates[0] }), { ok: true });
  assert.equal(await client.emitWithAck('subscribe_bookings', { user_id: userId }), { ok: true });

  // The refused room hears nothing; the joined ones still do.
  const feed = recorder(client);
  publish('slot_released', { vendor_id: vendorId, game_id: gameId, slot_id: 1, date: '2027-06-01', available_slot: 1 });
  const last = publish('slot_released', { vendor_id: vendorId, game_id: gameId, slot_id: 1, date: dates[48], available_slot: 1 });
  assert.equal(await feed.waitFor('slot_released'), last);
  assert.equal(feed.received.length, 1);

  // Subscriptions racing each other on a fresh connection: exactly 50 are let in.
  const racer = await connect();
  const answers = await Promise.all(Array.from({ length: 60 }, (_, day) => racer.emitWithAck('subscribe_slots', {
    vendor_id: vendorId, game_id: gameId, date: new Date(Date.UTC(2028, 0, 1 + day)).toISOString().slice(0, 10),
  })));
  assert.is(answers.filter((answer) => answer.ok).length, 50);
});

test('subscribe_bookings: own id only, admin any id, anonymous refused', async () => {
  const userId = freshId();
  const user = await connect(tokenFor('user', userId));
  assert.equal(await user.emitWithAck('subscribe_bookings', { user_id: userId }), { ok: true });
  const other = await user.emitWithAck('subscribe_bookings', { user_id: userId + 1 });
  assert.is(other.ok, false);
  assert.match(other.message, /own bookings/);

  const admin = await connect(adminToken());
  assert.equal(await admin.emitWithAck('subscribe_bookings', { user_id: userId }), { ok: true });

  const anonymous = await connect();
  const refused = await anonymous.emitWithAck('subscribe_bookings', { user_id: userId });
  assert.equal(refused, { ok: false, message: 'Authentication required' });
});

test('connect_vendor: that cafe or admin only', async () => {
  const vendorId = freshId();
  const staff = await connect(tokenFor('vendor', freshId(), vendorId));
  assert.equal(await staff.emitWithAck('connect_vendor', { vendor_id: vendorId }), { ok: true });
  const otherCafe = await staff.emitWithAck('connect_vendor', { vendor_id: vendorId + 1 });
  assert.is(otherCafe.ok, false);
  assert.match(otherCafe.message, /this cafe/);

  const gamer = await connect(tokenFor('user', freshId()));
  assert.is((await gamer.emitWithAck('connect_vendor', { vendor_id: vendorId })).ok, false);
  const admin = await connect(adminToken());
  assert.equal(await admin.emitWithAck('connect_vendor', { vendor_id: vendorId }), { ok: true });
});

test('connect_admin: admin token only, with or without an empty payload', async () => {
  const admin = await connect(adminToken());
  assert.equal(await admin.emitWithAck('connect_admin'), { ok: true });
  assert.equal(await admin.emitWithAck('connect_admin', {}), { ok: true });
  const gamer = await connect(tokenFor('user', freshId()));
  assert.equal(await gamer.emitWithAck('connect_admin'), { ok: false, message: 'Requires role admin' });
  const staff = await connect(tokenFor('vendor', freshId(), freshId()));
  assert.is((await staff.emitWithAck('connect_admin')).ok, false);
  const anonymous = await connect();
  assert.is((await anonymous.emitWithAck('connect_admin')).ok, false);
});

test('malformed payloads are refused with a message', async () => {
  const { vendorId, gameIds: [gameId] } = await cafeWithGames();
  const admin = await connect(adminToken());
  const malformed: Array<[string, unknown]> = [
    ['subscribe_slots', { vendor_id: 1, game_id: 2, date: '20251345' }],
    ['subscribe_slots', { vendor_id: 1, game_id: 2, date: '24-11-2026' }],
    ['subscribe_slots', { vendor_id: 0, game_id: 2, date: '20261124' }],
    ['subscribe_slots', { vendor_id: 1, date: '20261124' }],
    ['subscribe_slots', { vendor_id: '1', game_id: 2, date: '20261124' }],
    ['subscribe_slots', { vendor_id: 1, game_id: 2, date: '20261124', extra: true }],
    ['subscribe_slots', 'slots please'],
    ['subscribe_bookings', { user_id: -4 }],
    ['subscribe_bookings', { user_id: 1.5 }],
    ['subscribe_bookings', null],
    ['connect_vendor', { vendor_id: 'seven' }],
    ['connect_admin', { please: true }],
    ['ping_health', 'ping'],
    ['ping_health', { nonce: 'x', extra: 1 }],
  ];
  for (const [event, payload] of malformed) {
    const answer = await admin.emitWithAck(event, payload);
    assert.is(answer.ok, false, `${event} ${JSON.stringify(payload)} was accepted`);
    assert.type(answer.message, 'string');
    assert.ok(answer.message.length > 0);
  }
  // A subscription without an ack callback is simply applied or ignored; the socket stays usable.
  admin.emit('subscribe_slots', { nonsense: true });
  assert.equal(await admin.emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: gameId, date: '20261124' }), { ok: true });
});

test('a bad token is refused at the handshake', async () => {
  assert.is(await refusedHandshake({ token: 'not-a-jwt' }), 'Invalid token');
  const forged = jwt.sign({ sub: 5, role: 'admin' }, 'some-other-secret-of-enough-length', { algorithm: 'HS256' });
  assert.is(await refusedHandshake({ token: forged }), 'Invalid token');
  const expired = jwt.sign({ sub: 5, role: 'user', exp: Math.floor(Date.now() / 1000) - 60 }, process.env.JWT_SECRET!, { algorithm: 'HS256' });
  assert.is(await refusedHandshake({ token: expired }), 'Token expired');
  assert.is(await refusedHandshake({ token: 42 }), 'auth.token must be a string');
});

test('a socket is disconnected when its token expires, and hears nothing of its rooms after', async () => {
  const userId = freshId();
  const expiring = jwt.sign({ sub: userId, role: 'user', exp: Math.floor(Date.now() / 1000) + 2 }, config.jwtSecret, { algorithm: 'HS256' });
  const client = await connect(expiring);
  const lasting = await connect(tokenFor('user', userId));
  for (const socket of [client, lasting]) assert.equal(await socket.emitWithAck('subscribe_bookings', { user_id: userId }), { ok: true });
  const feeds = [recorder(client), recorder(lasting)];
  const reason = await new Promise<string>((resolve) => client.once('disconnect', resolve));
  assert.is(reason, 'io server disconnect');
  const update = publish('booking_updated', { booking_id: freshId(), user_id: userId, vendor_id: 4, game_id: 8, slot_id: 80, book_date: '2026-12-01', status: 'confirmed' });
  assert.equal(await feeds[1].waitFor('booking_updated'), update, 'a socket with a live token still hears it');
  assert.equal(feeds[0].received, []);
});

test('booking_updated reaches the user, the cafe and admins, and nobody else', async () => {
  const [userA, userB, cafeA, cafeB] = [freshId(), freshId(), freshId(), freshId()];
  const gamerA = await connect(tokenFor('user', userA));
  const gamerB = await connect(tokenFor('user', userB));
  const staffA = await connect(tokenFor('vendor', freshId(), cafeA));
  const staffB = await connect(tokenFor('vendor', freshId(), cafeB));
  const admin = await connect(adminToken());
  const idle = await connect(tokenFor('user', freshId()));
  const feeds = Object.fromEntries(Object.entries({ gamerA, gamerB, staffA, staffB, admin, idle }).map(([name, client]) => [name, recorder(client)]));

  assert.equal(await gamerA.emitWithAck('subscribe_bookings', { user_id: userA }), { ok: true });
  assert.equal(await gamerB.emitWithAck('subscribe_bookings', { user_id: userB }), { ok: true });
  assert.equal(await staffA.emitWithAck('connect_vendor', { vendor_id: cafeA }), { ok: true });
  assert.equal(await staffB.emitWithAck('connect_vendor', { vendor_id: cafeB }), { ok: true });
  assert.equal(await admin.emitWithAck('connect_admin'), { ok: true });
  // The admin also follows user A: one event must still arrive once, not once per room.
  assert.equal(await admin.emitWithAck('subscribe_bookings', { user_id: userA }), { ok: true });

  // Fields beyond the spec's shape never reach clients.
  const forA = publish('booking_updated', { booking_id: freshId(), user_id: userA, vendor_id: cafeA, game_id: 7, slot_id: 70, book_date: '2026-11-24', status: 'confirmed' }, { price_paise: 50000 });
  assert.equal(await feeds.gamerA.waitFor('booking_updated'), forA);
  assert.equal(await feeds.staffA.waitFor('booking_updated'), forA);
  assert.equal(await feeds.admin.waitFor('booking_updated'), forA);

  // Events leave the emitter and reach each socket in order, so once B's own event has arrived,
  // anything of A's meant for B would have arrived before it.
  const forB = publish('booking_updated', { booking_id: freshId(), user_id: userB, vendor_id: cafeB, game_id: 7, slot_id: 70, book_date: '2026-11-24', status: 'cancelled' });
  assert.equal(await feeds.gamerB.waitFor('booking_updated'), forB);
  assert.equal(await feeds.staffB.waitFor('booking_updated'), forB);
  await feeds.admin.waitFor('booking_updated', (payload) => payload.booking_id === forB.booking_id);

  assert.equal(feeds.gamerA.received, [{ event: 'booking_updated', payload: forA }]);
  assert.equal(feeds.staffA.received, [{ event: 'booking_updated', payload: forA }]);
  assert.equal(feeds.gamerB.received, [{ event: 'booking_updated', payload: forB }]);
  assert.equal(feeds.staffB.received, [{ event: 'booking_updated', payload: forB }]);
  // Admins hear every cafe, and other test files book at the same time: only these two cafes are compared.
  const theseCafes = feeds.admin.received.filter((entry) => entry.payload.vendor_id === cafeA || entry.payload.vendor_id === cafeB);
  assert.equal(theseCafes.map((entry) => entry.payload.booking_id), [forA.booking_id, forB.booking_id]);
  assert.equal(feeds.idle.received, []);
});

test('slot events reach the room of that game and date only', async () => {
  const { vendorId, gameIds: [gameId, otherGameId] } = await cafeWithGames();
  const watcher = await connect();
  const otherDay = await connect();
  const otherGame = await connect(tokenFor('user', freshId()));
  const feeds = { watcher: recorder(watcher), otherDay: recorder(otherDay), otherGame: recorder(otherGame) };
  assert.equal(await watcher.emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: gameId, date: '20261124' }), { ok: true });
  assert.equal(await otherDay.emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: gameId, date: '2026-11-25' }), { ok: true });
  assert.equal(await otherGame.emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: otherGameId, date: '2026-11-24' }), { ok: true });

  const pending = publish('slot_pending', { vendor_id: vendorId, game_id: gameId, slot_id: 31, date: '2026-11-24', available_slot: 2, booking_id: freshId() });
  const unit = { vendor_id: vendorId, game_id: gameId, slot_id: 31, date: '2026-11-24', available_slot: 3 };
  const released = publish('slot_released', unit, { booking_id: 99 });
  assert.equal(await feeds.watcher.waitFor('slot_pending'), pending);
  assert.equal(await feeds.watcher.waitFor('slot_released'), released);

  const nextDay = publish('slot_released', { ...unit, date: '2026-11-25', available_slot: 1 });
  const nextGame = publish('slot_released', { ...unit, game_id: otherGameId, available_slot: 5 });
  assert.equal(await feeds.otherDay.waitFor('slot_released'), nextDay);
  assert.equal(await feeds.otherGame.waitFor('slot_released'), nextGame);

  assert.equal(feeds.watcher.received.map((entry) => entry.event), ['slot_pending', 'slot_released']);
  assert.equal(feeds.otherDay.received, [{ event: 'slot_released', payload: nextDay }]);
  assert.equal(feeds.otherGame.received, [{ event: 'slot_released', payload: nextGame }]);
});

test('with a realtime process up, events for rooms nobody joined count as delivered (the adapter takes every room)', async () => {
  await realtimeServer(0);
  const nobody = freshId();
  const stamp = { event_id: `event-${freshId()}`, occurred_at: new Date().toISOString() };
  await publishEvents([
    { event: { kind: 'slot_released', payload: { vendor_id: nobody, game_id: nobody, slot_id: 1, date: '2031-01-01', available_slot: 1 } }, stamp },
    { event: { kind: 'booking_updated', payload: { booking_id: nobody, user_id: nobody, vendor_id: nobody, game_id: nobody, slot_id: 1, book_date: '2031-01-01', status: 'confirmed' } }, stamp },
  ]);
});

test('every realtime instance delivers: clients on a second process get the same events', async () => {
  const userId = freshId();
  const first = await connect(tokenFor('user', userId), 0);
  const second = await connect(tokenFor('user', userId), 1);
  assert.is.not((await realtimeServer(0)).port, (await realtimeServer(1)).port);
  const feeds = [recorder(first), recorder(second)];
  for (const client of [first, second]) assert.equal(await client.emitWithAck('subscribe_bookings', { user_id: userId }), { ok: true });
  const update = publish('booking_updated', { booking_id: freshId(), user_id: userId, vendor_id: 4, game_id: 8, slot_id: 80, book_date: '2026-12-01', status: 'pending_verified' });
  for (const feed of feeds) assert.equal(await feed.waitFor('booking_updated'), update);
});

test.run();
