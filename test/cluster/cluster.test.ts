import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Redis from 'ioredis';
import { partitionOf, slotKey } from '../../src/domain/slot-key';
import { realtimeListenerChannel } from '../../src/realtime/publish';
import { tokenFor } from '../helpers/api';
import { connected, openSocket, recorder } from '../helpers/sockets';
import {
  Answer, call, duplicateHolds, heldIds, inventoryMismatches, jobEnd, makeCafe, makeCustomers, startClusterStack, until,
} from '../failures/stack';
import { slotOwners } from './tools';

// The whole service on a private 3-master Redis Cluster (SPEC §2 scaling out, §11
// REDIS_CLUSTER_NODES): web, realtime and two worker processes, every one of them on an ioredis
// Cluster. Holds (some racing for one slot), a wallet confirmation, a cancellation and an expiry
// go through it, a real socket.io client hears a slot event through the realtime process, the
// booking partitions' keys are found on more than one node (each where CLUSTER KEYSLOT and CLUSTER
// NODES say its hash tag lives), and the inventory is checked by SQL at the end.

const Cluster = suite('the service on a Redis Cluster');

/** Fixed, so the partitions' hash tags (and so their nodes) are the same on every run. */
const PREFIX = 'hfgcluster';
const PARTITIONS = 8;
const HOLD_TTL_SECONDS = 6;

/** A hold's decided answer: the synchronous one, or its job's result after a 202. */
async function decided(base: string, token: string, answer: Answer): Promise<{ status: number; body: any }> {
  if (answer.status !== 202) return { status: answer.status as number, body: answer.body };
  const end = await jobEnd(base, answer.body.job_id, token);
  return { status: end.status, body: end.status < 300 ? end.result : end.error };
}

/** The booking partitions whose keys a node holds, asked of that node alone (SCAN sees one node). */
async function partitionsOn(port: number): Promise<Set<number>> {
  const node = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  try {
    const found = new Set<number>();
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `{${PREFIX}:booking-*}:*`, 'COUNT', 1000);
      for (const key of keys) found.add(Number(/^\{[^}]*:booking-(\d+)\}/.exec(key)![1]));
      cursor = next;
    } while (cursor !== '0');
    return found;
  } finally {
    node.disconnect();
  }
}

Cluster('holds, a wallet confirmation, a cancellation, an expiry and a socket event, with the partitions spread over the nodes', async () => {
  const started = Date.now();
  const stack = await startClusterStack({
    env: {
      REDIS_KEY_PREFIX: PREFIX, BOOKING_PARTITIONS: String(PARTITIONS), HOLD_TTL_SECONDS: String(HOLD_TTL_SECONDS), SWEEP_INTERVAL_MS: '250',
      // On, and far above what the test sends: their counters are cluster keys too.
      RATE_LIMIT_USER_PER_MIN: '1000', RATE_LIMIT_ADDRESS_PER_MIN: '10000',
    },
  });
  const sockets: Array<ReturnType<typeof openSocket>> = [];
  try {
    const workers = [stack.startWorker(), stack.startWorker()];
    const [web, realtime] = await Promise.all([stack.startWeb(), stack.startRealtime(), ...workers.map((w) => w.ready)]);
    const cafe = await makeCafe(stack.db, { games: 6, capacity: 3, slots: 4 });
    const customers = await makeCustomers(stack.db, 8);
    const [first] = cafe.games;
    for (const service of [web, realtime]) {
      const health = await call(service.base, 'GET', '/health');
      assert.equal([health.status, health.body?.redis], [200, 'ok'], `${service.base}/health: ${JSON.stringify(health)}`);
    }

    const listener = await connected(openSocket(realtime.port));
    sockets.push(listener);
    const heard = recorder(listener);
    assert.equal(await listener.emitWithAck('subscribe_slots', { vendor_id: cafe.vendor.id, game_id: first.game.id, date: cafe.date }), { ok: true });

    // One hold per game (six slot keys over several partitions), and five customers racing for the
    // three units of one slot.
    const hold = async (customer: { token: string }, gameIndex: number, slotIndex: number, headers: Record<string, string> = {}) => {
      const { game, slots } = cafe.games[gameIndex];
      const answer = await call(web.base, 'POST', '/bookings', {
        token: customer.token, body: { slot_id: slots[slotIndex].id, game_id: game.id, book_date: cafe.date }, headers, timeoutMs: 20_000,
      });
      return decided(web.base, customer.token, answer);
    };
    const idempotent = { 'Idempotency-Key': 'cluster-test-hold-0' };
    const spread = await Promise.all(cafe.games.map((_, g) => hold(customers[g], g, 0, g === 0 ? idempotent : {})));
    const replay = await hold(customers[0], 0, 0, idempotent);
    assert.equal(replay, spread[0], 'the retried request (same Idempotency-Key) answers as the first and holds nothing more');
    const racing = await Promise.all(customers.slice(0, 5).map((customer) => hold(customer, 0, 1)));
    assert.equal(spread.map((answer) => answer.status), cafe.games.map(() => 201), JSON.stringify(spread));
    assert.equal(racing.map((answer) => answer.status).sort(), [201, 201, 201, 409, 409], JSON.stringify(racing));
    assert.ok(racing.filter((answer) => answer.status === 409).every((answer) => answer.body.code === 'slot_unavailable'));

    const [confirmedId] = heldIds(spread[0].body);
    const pending = await heard.waitFor('slot_pending', (payload) => payload.booking_id === confirmedId, 10_000);
    assert.is(pending.slot_id, first.slots[0].id);

    // A wallet confirmation of the first hold, then its cancellation (the wallet is paid back).
    const admin = tokenFor('admin', 1);
    const credited = await call(web.base, 'POST', `/users/${customers[0].user.id}/wallet/credit`, { token: admin, body: { amount: 1000, reason: 'cluster test' } });
    assert.ok(credited.status === 200 || credited.status === 201, JSON.stringify(credited));
    const confirmation = await call(web.base, 'POST', '/bookings/confirm', {
      token: customers[0].token, body: { booking_id: [confirmedId], payment_mode: 'wallet' }, timeoutMs: 20_000,
    });
    const confirmed = await decided(web.base, customers[0].token, confirmation);
    assert.is(confirmed.status, 200, JSON.stringify(confirmed));
    assert.equal(confirmed.body.booking_ids.map(Number), [confirmedId]);
    const cancellation = await call(web.base, 'DELETE', `/bookings/${confirmedId}`, { token: customers[0].token, timeoutMs: 20_000 });
    const cancelled = await decided(web.base, customers[0].token, cancellation);
    assert.is(cancelled.status, 200, JSON.stringify(cancelled));
    await heard.waitFor('slot_released', (payload) => payload.slot_id === first.slots[0].id, 10_000);

    // Every other hold expires: the sweeper's releases go through the partitions too.
    const expiring = [...spread.slice(1), ...racing].flatMap((answer) => (answer.status === 201 ? heldIds(answer.body) : []));
    await until(async () => {
      const statuses = await stack.db('bookings').whereIn('id', expiring).pluck('status');
      return statuses.length === expiring.length && statuses.every((status) => status === 'verification_failed');
    }, `${expiring.length} holds to expire`, 20_000, 200);
    const statuses = Object.fromEntries((await stack.db('bookings').select('id', 'status')).map((row) => [row.id, row.status]));
    assert.is(statuses[confirmedId], 'cancelled');

    // Where the partitions live: each node is asked for its own keys, and CLUSTER KEYSLOT with
    // CLUSTER NODES must place every partition on the node that holds it.
    const control = new Redis({ host: '127.0.0.1', port: stack.cluster.ports[0], maxRetriesPerRequest: 1 });
    try {
      const ownerOf = await slotOwners(control);
      const byNode = new Map<number, Set<number>>();
      for (const port of stack.cluster.ports) byNode.set(port, await partitionsOn(port));
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const slot = Number(await control.call('CLUSTER', 'KEYSLOT', `{${PREFIX}:booking-${partition}}`));
        const holders = [...byNode].filter(([, partitions]) => partitions.has(partition)).map(([port]) => port);
        assert.equal(holders, [ownerOf(slot)], `partition ${partition} (slot ${slot}) is held by exactly the node serving its slot`);
      }
      const used = new Set(cafe.games.map(({ game }) => partitionOf(slotKey(game.id, cafe.date), PARTITIONS)));
      const usedNodes = new Set([...byNode].filter(([, partitions]) => [...used].some((p) => partitions.has(p))).map(([port]) => port));
      console.log(`    partitions per node ${JSON.stringify(Object.fromEntries([...byNode].map(([port, p]) => [port, [...p].sort()])))}; the holds used partitions ${[...used].sort()} on ${usedNodes.size} nodes`);
      assert.ok(usedNodes.size >= 2, 'the holds ran in partitions on at least two nodes');
    } finally {
      control.disconnect();
    }

    // Events leave the outbox once a realtime process got them. A PUBLISH reaches every node, but
    // only the node holding the realtime subscriber counts it: without the cluster-wide check
    // (src/realtime/publish.ts) the others' 0 would keep events in the outbox and send them again.
    const subscribers: number[] = [];
    for (const port of stack.cluster.ports) {
      const node = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
      subscribers.push(Number(((await node.call('PUBSUB', 'NUMSUB', realtimeListenerChannel(PREFIX))) as [string, number])[1]));
      node.disconnect();
    }
    assert.equal(subscribers.slice().sort(), [0, 0, 1], `one node holds the realtime subscriber (${subscribers})`);
    await until(async () => Number((await stack.db('outbox').where({ topic: 'socket' }).count({ n: '*' }))[0].n) === 0, 'the outbox to be empty', 10_000);
    const eventIds = heard.received.map((entry) => entry.payload.event_id);
    assert.is(new Set(eventIds).size, eventIds.length, `no event was sent twice: ${JSON.stringify(heard.received.map((e) => e.event))}`);
    assert.ok(heard.received.length >= 5, `the slot room heard its holds, cancellation and expiries (${heard.received.length} events)`);

    const rateKeys = await Promise.all(stack.cluster.ports.map(async (port) => {
      const node = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
      const [, keys] = await node.scan('0', 'MATCH', `${PREFIX}:rate:*`, 'COUNT', 10_000);
      node.disconnect();
      return keys.length;
    }));
    assert.ok(rateKeys.reduce((a, b) => a + b, 0) > 0, `the rate limits counted on the cluster (${rateKeys})`);

    assert.equal(await inventoryMismatches(stack.db), [], 'inventory equals capacity minus pending and confirmed bookings');
    assert.equal(await duplicateHolds(stack.db), [], 'no hold applied twice');
    const inventory = await stack.db('slot_inventory').select('capacity', 'available');
    assert.ok(inventory.length > 0 && inventory.every((row) => row.available === row.capacity), 'every unit came back');
    for (const w of workers) assert.is(w.child.exitCode, null, 'the workers are still running');
    console.log(`    cluster test took ${Date.now() - started} ms`);
  } finally {
    sockets.forEach((socket) => socket.disconnect());
    await stack.close();
  }
});

Cluster.run();
