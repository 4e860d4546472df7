import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { Socket } from 'socket.io-client';
import { config } from '../../src/config';
import { signToken } from '../../src/http/auth';
import { socketChannelKey } from '../../src/realtime/publish';
import { adminToken, api, tokenFor } from '../helpers/api';
import { dateInDays, makeUser } from '../helpers/fixtures';
import { BookingCafe, bookingCafe, holdOrFail, makeCustomer, useWorkers } from '../helpers/bookings';
import { confirm, credit, expireHolds, gatewayBody, orderFor, pay } from '../helpers/payments';
import { connected, openSocket, recorder, RealtimeProcess, startRealtimeProcess } from '../helpers/sockets';

// SPEC §9 as deployed: two realtime processes (src/realtime/server.ts, as the Procfile runs them)
// behind one Redis, a real worker process publishing after commit, real API calls making every
// booking transition, and real socket.io clients spread over both processes. Each client must get
// exactly the events of its rooms: the right ones arrive, and once they have, nothing else did.

const test = suite('realtime: two instances');
useWorkers(test, 1);

let instances: RealtimeProcess[] = [];
test.before(async () => {
  instances = await Promise.all([startRealtimeProcess(), startRealtimeProcess()]);
});
test.after(async () => {
  await Promise.all(instances.map((instance) => instance.stop()));
  instances = [];
});

const clients: Socket[] = [];
test.after.each(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

async function connect(instance: number, token?: string): Promise<Socket> {
  const client = openSocket(instances[instance].port, token === undefined ? {} : { token });
  clients.push(client);
  return connected(client);
}

type Feed = ReturnType<typeof recorder>;

/** A client on `instance` that joined one room, and its feed of events (stamps checked and removed). */
async function listener(instance: number, token: string | undefined, event: string, payload?: object): Promise<{ client: Socket; feed: Feed }> {
  const client = await connect(instance, token);
  const feed = recorder(client, { unstamped: true });
  const answer = payload === undefined ? await client.emitWithAck(event) : await client.emitWithAck(event, payload);
  assert.equal(answer, { ok: true }, `${event} ${JSON.stringify(payload)}`);
  return { client, feed };
}

const staffToken = async (vendorId: number) => tokenFor('vendor', (await makeUser()).id, vendorId);

function bookingUpdate(cafe: BookingCafe, bookingId: number, slotId: number, status: string, userId = cafe.user.id) {
  return { booking_id: bookingId, user_id: userId, vendor_id: cafe.vendor.id, game_id: cafe.game.id, slot_id: slotId, book_date: cafe.date, status };
}

/** Waits until every feed got `expected` (a booking_updated) and checks it arrived exactly as built. */
async function allGet(feeds: Feed[], expected: ReturnType<typeof bookingUpdate>): Promise<void> {
  for (const feed of feeds) {
    const got = await feed.waitFor('booking_updated', (p) => p.booking_id === expected.booking_id && p.status === expected.status && p.slot_id === expected.slot_id);
    assert.equal(got, expected);
  }
}

const statusesOf = (feed: Pick<Feed, 'received'>) => feed.received.map((entry) => [entry.event, entry.payload.booking_id, entry.payload.status]);
const slotEventsOf = (feed: Feed) => feed.received.map((entry) => [entry.event, entry.payload.slot_id, entry.payload.available_slot]);

test('booking_updated on every transition reaches the user, the cafe and admins on either instance, and nobody else', async () => {
  const cafe = await bookingCafe({ total_slots: 1, price_rupees: 200 });
  const other = await bookingCafe({ total_slots: 2 });
  const rival = await makeCustomer();
  await credit(cafe.user.id, 2000);
  const otherDate = dateInDays(4, cafe.vendor.timezone);

  // Clients spread over both instances; each one's rooms are served by the other instance's peers too.
  const gamer = await listener(0, cafe.token, 'subscribe_bookings', { user_id: cafe.user.id });
  const otherGamer = await listener(1, other.token, 'subscribe_bookings', { user_id: other.user.id });
  const staff = await listener(1, await staffToken(cafe.vendor.id), 'connect_vendor', { vendor_id: cafe.vendor.id });
  const otherStaff = await listener(0, await staffToken(other.vendor.id), 'connect_vendor', { vendor_id: other.vendor.id });
  const admin = await listener(1, adminToken(), 'connect_admin');
  const adminStamps = recorder(admin.client);
  const slots = await listener(0, undefined, 'subscribe_slots', { vendor_id: cafe.vendor.id, game_id: cafe.game.id, date: cafe.date });
  const slotsOtherDay = await listener(1, undefined, 'subscribe_slots', { vendor_id: cafe.vendor.id, game_id: cafe.game.id, date: otherDate });
  const otherSlots = await listener(1, undefined, 'subscribe_slots', { vendor_id: other.vendor.id, game_id: other.game.id, date: other.date });
  const idle = recorder(await connect(0, tokenFor('user', rival.user.id)), { unstamped: true });
  const ours = [gamer.feed, staff.feed, admin.feed];

  // The other cafe's customer holds first: were any of it meant for this cafe's clients, it
  // would arrive before their own first event.
  const [theirs] = await holdOrFail(other, [other.slots[9].id]);
  await allGet([otherGamer.feed, otherStaff.feed, admin.feed], bookingUpdate(other, theirs, other.slots[9].id, 'pending_verified'));

  // hold → confirm (wallet) → cancel
  const s = cafe.slots;
  const [first] = await holdOrFail(cafe, [s[10].id]);
  await allGet(ours, bookingUpdate(cafe, first, s[10].id, 'pending_verified'));
  const confirmed = await confirm(cafe.token, { booking_id: [first], payment_mode: 'wallet' });
  assert.is(confirmed.status, 200, JSON.stringify(confirmed.body));
  await allGet(ours, bookingUpdate(cafe, first, s[10].id, 'confirmed'));
  assert.is((await api('DELETE', `/bookings/${first}`, { token: cafe.token })).status, 200);
  await allGet(ours, bookingUpdate(cafe, first, s[10].id, 'cancelled'));

  // hold → release
  const [second] = await holdOrFail(cafe, [s[11].id]);
  await allGet(ours, bookingUpdate(cafe, second, s[11].id, 'pending_verified'));
  const released = await api('POST', '/release_slot', { token: cafe.token, body: { bookings: [{ booking_id: second }] } });
  assert.is(released.status, 200, JSON.stringify(released.body));
  await allGet(ours, bookingUpdate(cafe, second, s[11].id, 'cancelled'));

  // hold → move
  const [third] = await holdOrFail(cafe, [s[12].id]);
  await allGet(ours, bookingUpdate(cafe, third, s[12].id, 'pending_verified'));
  const moved = await api('PUT', `/bookings/${third}`, { token: cafe.token, body: { slot_id: s[13].id } });
  assert.is(moved.status, 200, JSON.stringify(moved.body));
  await allGet(ours, bookingUpdate(cafe, third, s[13].id, 'pending_verified'));

  // hold → expiry → late retake (a payment after the hold expired, its unit still free)
  const [fourth] = await holdOrFail(cafe, [s[14].id]);
  await allGet(ours, bookingUpdate(cafe, fourth, s[14].id, 'pending_verified'));
  await expireHolds([fourth]);
  await allGet(ours, bookingUpdate(cafe, fourth, s[14].id, 'verification_failed'));
  const retaken = await confirm(cafe.token, { booking_id: [fourth], payment_mode: 'wallet' });
  assert.is(retaken.status, 200, JSON.stringify(retaken.body));
  await allGet(ours, bookingUpdate(cafe, fourth, s[14].id, 'confirmed'));

  // hold → expiry → the unit taken by another customer → the late payment refunded
  const [fifth] = await holdOrFail(cafe, [s[15].id]);
  await allGet(ours, bookingUpdate(cafe, fifth, s[15].id, 'pending_verified'));
  const order = await orderFor(cafe.token, [fifth]);
  await expireHolds([fifth]);
  await allGet(ours, bookingUpdate(cafe, fifth, s[15].id, 'verification_failed'));
  const [rivals] = await holdOrFail(cafe, [s[15].id], rival);
  await allGet([staff.feed, admin.feed], bookingUpdate(cafe, rivals, s[15].id, 'pending_verified', rival.user.id));
  const refused = await confirm(cafe.token, gatewayBody([fifth], pay(order.id)));
  assert.equal([refused.status, refused.body.code], [409, 'slot_unavailable'], JSON.stringify(refused.body));
  await allGet(ours, bookingUpdate(cafe, fifth, s[15].id, 'refunded'));

  // The other cafe's customer cancels last: anything of this cafe's meant for them would be in
  // their feeds before it.
  assert.is((await api('DELETE', `/bookings/${theirs}`, { token: other.token })).status, 200);
  await allGet([otherGamer.feed, otherStaff.feed, admin.feed], bookingUpdate(other, theirs, other.slots[9].id, 'cancelled'));
  await otherSlots.feed.waitFor('slot_released');

  const mine = [
    ['booking_updated', first, 'pending_verified'], ['booking_updated', first, 'confirmed'], ['booking_updated', first, 'cancelled'],
    ['booking_updated', second, 'pending_verified'], ['booking_updated', second, 'cancelled'],
    ['booking_updated', third, 'pending_verified'], ['booking_updated', third, 'pending_verified'],
    ['booking_updated', fourth, 'pending_verified'], ['booking_updated', fourth, 'verification_failed'], ['booking_updated', fourth, 'confirmed'],
    ['booking_updated', fifth, 'pending_verified'], ['booking_updated', fifth, 'verification_failed'],
  ];
  const rivalHold = ['booking_updated', rivals, 'pending_verified'];
  const refund = ['booking_updated', fifth, 'refunded'];
  const theirEvents = [['booking_updated', theirs, 'pending_verified'], ['booking_updated', theirs, 'cancelled']];
  assert.equal(statusesOf(gamer.feed), [...mine, refund]);
  assert.equal(statusesOf(staff.feed), [...mine, rivalHold, refund]);
  // Admins hear every cafe, and other test files book at the same time: only these two cafes are compared.
  const theseCafes = (entry: { payload: { vendor_id: number } }) => entry.payload.vendor_id === cafe.vendor.id || entry.payload.vendor_id === other.vendor.id;
  assert.equal(statusesOf({ received: admin.feed.received.filter(theseCafes) }), [theirEvents[0], ...mine, rivalHold, refund, theirEvents[1]]);
  assert.equal(statusesOf(otherGamer.feed), theirEvents);
  assert.equal(statusesOf(otherStaff.feed), theirEvents);

  // The slots room of that game and date: every unit taken and given back, in order; no booking_updated.
  assert.equal(slotEventsOf(slots.feed), [
    ['slot_pending', s[10].id, 0], ['slot_released', s[10].id, 1],
    ['slot_pending', s[11].id, 0], ['slot_released', s[11].id, 1],
    ['slot_pending', s[12].id, 0], ['slot_released', s[12].id, 1], ['slot_pending', s[13].id, 0],
    ['slot_pending', s[14].id, 0], ['slot_released', s[14].id, 1], ['slot_pending', s[14].id, 0],
    ['slot_pending', s[15].id, 0], ['slot_released', s[15].id, 1], ['slot_pending', s[15].id, 0],
  ]);
  assert.equal(slotEventsOf(otherSlots.feed), [['slot_pending', other.slots[9].id, 1], ['slot_released', other.slots[9].id, 2]]);
  assert.equal(slotsOtherDay.feed.received, []);
  assert.equal(idle.received, []);

  // Every event is stamped (an unstamped feed shows a bad stamp in its payload), each with its own id.
  const ids = adminStamps.received.filter(theseCafes).map((entry) => entry.payload.event_id);
  assert.is(ids.length, admin.feed.received.filter(theseCafes).length);
  assert.is(new Set(ids).size, ids.length);
});

test('events carry a distinct event_id and an occurred_at near the commit', async () => {
  const cafe = await bookingCafe();
  const client = await connect(1, cafe.token);
  const raw = recorder(client);
  assert.equal(await client.emitWithAck('subscribe_bookings', { user_id: cafe.user.id }), { ok: true });
  const before = Date.now();
  const [id] = await holdOrFail(cafe, [cafe.slots[8].id]);
  assert.is((await api('DELETE', `/bookings/${id}`, { token: cafe.token })).status, 200);
  await raw.waitFor('booking_updated', (p) => p.status === 'cancelled');
  const stamps = raw.received.map((entry) => [entry.payload.event_id, Date.parse(entry.payload.occurred_at)]);
  assert.is(stamps.length, 2);
  assert.is(new Set(stamps.map(([eventId]) => eventId)).size, 2);
  for (const [eventId, at] of stamps) {
    assert.match(String(eventId), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.ok(at >= before - 5000 && at <= Date.now() + 5000, `occurred_at ${new Date(at as number).toISOString()}`);
  }
});

test('ping_health is answered by either instance', async () => {
  for (const instance of [0, 1]) {
    const client = await connect(instance);
    const feed = recorder(client);
    assert.equal(await client.emitWithAck('ping_health', { nonce: `nonce-${instance}` }), { ok: true });
    const pong = await feed.waitFor('pong_health');
    assert.equal({ ...pong, server_ts: typeof pong.server_ts }, { status: 'ok', nonce: `nonce-${instance}`, server_ts: 'number' });
  }
});

test('a socket is disconnected when its token expires; a socket with a live token keeps hearing the user\'s events', async () => {
  const cafe = await bookingCafe();
  const expiring = await connect(1, signToken({ sub: cafe.user.id, role: 'user' }, '2s'));
  const lasting = await connect(0, cafe.token);
  for (const socket of [expiring, lasting]) assert.equal(await socket.emitWithAck('subscribe_bookings', { user_id: cafe.user.id }), { ok: true });
  const feeds = [recorder(expiring), recorder(lasting)];
  const reason = await new Promise<string>((resolve) => expiring.once('disconnect', resolve));
  assert.is(reason, 'io server disconnect');
  const [id] = await holdOrFail(cafe, [cafe.slots[7].id]);
  await feeds[1].waitFor('booking_updated', (p) => p.booking_id === id);
  assert.equal(feeds[0].received, []);
  assert.is(expiring.connected, false);
});

// notepack.io is the adapter's own wire format (the default parser of @socket.io/redis-adapter and
// -emitter): the test uses it to build messages that decode but are not what an emitter sends.
const msgpack: { encode(value: unknown): Buffer } = require('notepack.io');

test('garbage on the socket.io channels of Redis crashes neither instance, disconnects nobody, and later events still arrive', async () => {
  const cafe = await bookingCafe();
  const gamers = [await connect(0, cafe.token), await connect(1, cafe.token)];
  for (const gamer of gamers) assert.equal(await gamer.emitWithAck('subscribe_bookings', { user_id: cafe.user.id }), { ok: true });
  const feeds = gamers.map((gamer) => recorder(gamer));
  let disconnects = 0;
  for (const gamer of gamers) gamer.on('disconnect', () => disconnects++);

  const key = socketChannelKey();
  const room = `user:${cafe.user.id}`;
  const broadcast = [`${key}#/#`, `${key}#/#${room}#`];
  const requests = `${key}-request#/#`;
  const responses = `${key}-response#/#`;
  const event = ['booking_updated', { booking_id: 1 }];
  const garbage: Array<[string, string | Buffer]> = [
    ...broadcast.flatMap((channel): Array<[string, string | Buffer]> => [
      [channel, Buffer.from([0xc1, 0xff, 0x00])], // not msgpack at all
      [channel, 'plain text'],
      [channel, msgpack.encode(null)],
      [channel, msgpack.encode(['uid', null, null])],
      [channel, msgpack.encode(['uid', { type: 2, nsp: '/', data: event }, null])],
      [channel, msgpack.encode(['uid', { type: 2, nsp: '/', data: event }, { rooms: 5 }])],
      [channel, msgpack.encode(['uid', { type: 2, nsp: '/', data: event }, { rooms: [room], except: {} }])],
      // Decodable, and forwarded as is by the library: a DISCONNECT packet, a reserved event name, a packet type no client knows.
      [channel, msgpack.encode(['uid', { type: 1, nsp: '/' }, { rooms: [room], except: [] }])],
      [channel, msgpack.encode(['uid', { type: 2, nsp: '/', data: ['disconnect', 'bye'] }, { rooms: [room], except: [] }])],
      [channel, msgpack.encode(['uid', { type: 9, nsp: '/', data: event }, { rooms: [room], except: [] }])],
      [channel, msgpack.encode(['uid', { type: 2, nsp: '/', data: event, id: 3 }, { rooms: [room], except: [] }])],
    ]),
    [requests, 'null'],
    [requests, '{"type":5}'],
    [requests, '{"type":7}'],
    [requests, '{"type":6,"data":null,"uid":"x","requestId":"r"}'],
    [requests, '{"type":2,"opts":{"rooms":5}}'],
    [requests, Buffer.from([0xc1])],
    [requests, msgpack.encode(null)],
    [responses, 'null'],
    [responses, '[1,2'],
    [responses, msgpack.encode(7)],
  ];
  const redis = new Redis(config.redisUrl);
  try {
    for (const [channel, message] of garbage) await redis.publish(channel, message);
  } finally {
    await redis.quit();
  }

  // Published after the garbage, through the same Redis: by the time it arrives, every bad message was handled.
  const [id] = await holdOrFail(cafe, [cafe.slots[6].id]);
  const survivors = () => instances.map((instance, index) => (instance.child.exitCode === null && instance.child.signalCode === null
    ? '' : `instance ${index} exited (${instance.child.exitCode ?? instance.child.signalCode}):\n${instance.output().slice(-3000)}`)).join('');
  for (const feed of feeds) {
    const update = await feed.waitFor('booking_updated').catch((error) => {
      throw new Error(`${error.message}; ${disconnects} clients disconnected; ${survivors() || 'both instances are up'}`);
    });
    assert.is(update.booking_id, id);
  }
  assert.is(survivors(), '');
  for (const instance of instances) assert.match(instance.output(), /dropped a malformed/);
  assert.is(disconnects, 0);
  for (const [index, feed] of feeds.entries()) {
    assert.equal(feed.received.map((entry) => [entry.event, entry.payload.booking_id]), [['booking_updated', id]], `client ${index}`);
  }
  // And both still answer new clients.
  for (const instance of [0, 1]) {
    const client = await connect(instance);
    assert.equal(await client.emitWithAck('ping_health', { nonce: 'after' }), { ok: true });
  }
});

test.run();
