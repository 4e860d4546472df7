import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ChildProcess, spawn } from 'child_process';
import { randomUUID } from 'crypto';
import path from 'path';
import { Job, Queue } from 'bullmq';
import Redis from 'ioredis';
import { Socket } from 'socket.io-client';
import { config } from '../../src/config';
import { db } from '../../src/db/knex';
import { Game, Slot, User, Vendor } from '../../src/db/models';
import { HoldRequest, Outcome } from '../../src/domain/booking-types';
import { bookingJobOptions, partitionForKey } from '../../src/jobs/booking';
import { bookingQueueName, bookingQueueNames, queuePrefix } from '../../src/jobs/queues';
import { tokenFor } from '../helpers/api';
import { assertInventoryMatches, bookingRow, eventually } from '../helpers/bookings';
import { dateInDays, makeGame, makeUser, makeVendor } from '../helpers/fixtures';
import { PrivateRedis, startPrivateRedis } from '../helpers/private-redis';
import { freePort } from '../../scripts/test-env';
import { onTestsDone } from '../helpers/resources';
import { connected, openSocket, recorder } from '../helpers/sockets';
import { startWorker, WorkerProcess } from '../helpers/workers';

// The outbox relay and the partitions' global concurrency against a Redis that misbehaves: a
// private redis-server whose `nopub` user may do everything but PUBLISH (an error reply after the
// booking transaction committed), then a restart that loses every key. Real worker processes, a
// real realtime process and a real socket.io client on that Redis; SQL for the truth. The tests
// run in order and share one story: holds that could not be published, a kill, a relay, a restart.

const Outbox = suite('outbox relay and partition concurrency on a private Redis');

const NOPUB = { name: 'nopub', password: 'nopub-password' };

interface Cafe {
  vendor: Vendor;
  game: Game;
  slots: Slot[];
  user: User;
  date: string;
}

interface OutboxRow {
  id: string;
  kind: string;
  booking_id: number;
  occurred_at: string;
}

let redis: PrivateRedis;
/** The test's own connection to the private Redis, as its default (full-rights) user. */
let control: Redis;
let partitionQueue: Queue;
let realtime: ChildProcess;
/** An anonymous client in the game's slots room, and the gamer's own client in their bookings room. */
let watcher: Socket;
let gamer: Socket;
let slotFeed: ReturnType<typeof recorder>;
let bookingFeed: ReturnType<typeof recorder>;
let worker: WorkerProcess | null = null;
let cafe: Cafe;
/** Booking ids of the two holds of the first test, and the outbox rows they left. */
let heldIds: number[] = [];
let leftovers: OutboxRow[] = [];

/** Everything a process prints, for waiting on a log line (pino JSON, one object a line). */
function capture(child: ChildProcess): { text: () => string } {
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  return { text: () => output };
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** `eventually`, failing at once, with the process's last output, when `child` died meanwhile. */
function whileAlive<T>(child: ChildProcess, output: { text: () => string }, probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 15000): Promise<T> {
  return eventually(probe, what, timeoutMs, 100, () => (isRunning(child) ? null
    : `worker ${child.pid} died (exit ${child.exitCode}, signal ${child.signalCode}); its last output:\n${output.text().slice(-3000)}`));
}

async function startRealtime(redisUrl: string): Promise<ChildProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', '..', 'src', 'realtime', 'server.ts')], {
    env: { ...process.env, REDIS_URL: redisUrl, REALTIME_PORT: String(port), LOG_LEVEL: 'info', HFG_PROCESS: 'test-realtime' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTestsDone(() => {
    if (isRunning(child)) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"realtime listening"')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', (code) => reject(new Error(`realtime exited (${code}) before it listened:\n${output.slice(-2000)}`)));
  });
  (child as ChildProcess & { port?: number }).port = port;
  return child;
}

/** Adds one hold job straight to the slot key's partition queue on the private Redis; returns its job id. */
async function addHold(slot: Slot): Promise<string> {
  const request: HoldRequest = {
    requestId: randomUUID(),
    actor: { userId: cafe.user.id, role: 'user', vendorId: null },
    userId: cafe.user.id, gameId: cafe.game.id, bookDate: cafe.date, slotIds: [slot.id],
  };
  await partitionQueue.add('hold', { requests: [request] }, { ...bookingJobOptions, jobId: request.requestId });
  return request.requestId;
}

/** Polls the job's state on the private Redis until it completed; returns its outcome. */
async function completedOutcome(jobId: string, running: WorkerProcess, output: { text: () => string }): Promise<Outcome> {
  const { job, state } = await whileAlive(running.child, output, async () => {
    const found: Job | undefined = await partitionQueue.getJob(jobId);
    const current = found ? await found.getState() : 'unknown';
    return current === 'completed' || current === 'failed' ? { job: found!, state: current } : undefined;
  }, `hold job ${jobId} to complete`);
  assert.is(state, 'completed', `hold job ${jobId} failed: ${job.failedReason}`);
  return (job.returnvalue as Outcome[])[0];
}

/** The events of this suite's game waiting in the outbox (a row holds a transaction's events), oldest first. */
async function outboxRowsOfGame(): Promise<OutboxRow[]> {
  const { rows } = await db.raw(
    `SELECT e->'stamp'->>'event_id' AS id,
            e->'event'->>'kind' AS kind,
            (coalesce(e->'event'->'payload'->>'booking_id', '0'))::int AS booking_id,
            e->'stamp'->>'occurred_at' AS occurred_at
       FROM outbox, jsonb_array_elements(outbox.payload->'events') AS e
      WHERE (e->'event'->'payload'->>'game_id')::int = ?
      ORDER BY outbox.created_at, 1`,
    [cafe.game.id],
  );
  return rows;
}

function metaKey(queueName: string): string {
  return `${queuePrefix(queueName)}:${queueName}:meta`;
}

Outbox.before(async () => {
  redis = await startPrivateRedis({
    args: [
      '--user', 'default', 'on', 'nopass', '~*', '&*', '+@all',
      '--user', NOPUB.name, 'on', `>${NOPUB.password}`, '~*', '&*', '+@all', '-publish',
    ],
  });
  control = new Redis(redis.url(), { maxRetriesPerRequest: null });
  control.on('error', () => undefined); // the last test stops this Redis while the connection is open
  control.on('error', () => undefined); // the restart in the last test drops it for a moment
  onTestsDone(() => control.disconnect());

  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { total_slots: 3, slots: [['10:00', '11:00'], ['11:00', '12:00']] });
  cafe = { vendor, game, slots, user: await makeUser(), date: dateInDays(3, vendor.timezone) };
  const queueName = bookingQueueName(partitionForKey(game.id, cafe.date));
  partitionQueue = new Queue(queueName, { connection: control, prefix: queuePrefix(queueName) });
  partitionQueue.on('error', () => undefined);

  realtime = await startRealtime(redis.url());
  const port = (realtime as ChildProcess & { port?: number }).port!;
  watcher = await connected(openSocket(port));
  gamer = await connected(openSocket(port, { token: tokenFor('user', cafe.user.id) }));
  onTestsDone(() => [watcher, gamer].forEach((socket) => socket.disconnect()));
  slotFeed = recorder(watcher);
  bookingFeed = recorder(gamer);
  assert.equal(await watcher.emitWithAck('subscribe_slots', { vendor_id: vendor.id, game_id: game.id, date: cafe.date }), { ok: true });
  assert.equal(await gamer.emitWithAck('subscribe_bookings', { user_id: cafe.user.id }), { ok: true });
});

/**
 * SIGTERM, then SIGKILL if the process is still there after `graceMs`. A worker told to stop
 * while its Redis connections are reconnecting (as right after the restart in the last test)
 * never exits by itself: see the report on BullMQ's Worker.close() during a reconnect.
 */
async function stopWithin(child: ChildProcess, stop: () => Promise<unknown>, graceMs = 5000): Promise<void> {
  const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await stop();
  } finally {
    clearTimeout(force);
  }
}

Outbox.after(async () => {
  watcher?.disconnect();
  gamer?.disconnect();
  const running = worker;
  worker = null;
  if (running) await stopWithin(running.child, () => running.stop());
  if (realtime && isRunning(realtime)) {
    const exited = new Promise((resolve) => realtime.once('exit', resolve));
    await stopWithin(realtime, () => {
      realtime.kill('SIGTERM');
      return exited;
    });
  }
  await partitionQueue?.close();
  control?.disconnect();
  await redis?.stop();
});

Outbox('A Redis error reply after commit does not crash the worker', async () => {
  worker = startWorker({ REDIS_URL: redis.url(NOPUB) });
  const output = capture(worker.child);
  await worker.ready;

  // One hold after the other: the first one's refused publish has had its chance to crash the
  // process before the second is even queued.
  for (const slot of cafe.slots) {
    const outcome = await completedOutcome(await addHold(slot), worker, output);
    assert.is(outcome.status, 201, `hold answered ${JSON.stringify(outcome)}`);
    heldIds.push(...(outcome.body as { bookings: Array<{ booking_id: number }> }).bookings.map((b) => b.booking_id));
  }
  assert.is(heldIds.length, 2);

  // Each hold's relay after commit tried to publish, Redis answered NOPERM, and the worker logged it.
  await whileAlive(worker.child, output, async () => (output.text().match(/outbox relay failed/g) ?? []).length >= 2,
    'both relays after commit to report the refused publish');
  const aclLog = (await control.call('ACL', 'LOG')) as unknown[][];
  const refusals = aclLog.map((entry) => Object.fromEntries(Array.from({ length: entry.length / 2 }, (_, i) => [String(entry[2 * i]), entry[2 * i + 1]])));
  assert.ok(refusals.some((r) => r.object === 'publish' && r.username === NOPUB.name && r.reason === 'command'),
    `Redis refused the worker's PUBLISH: ${JSON.stringify(refusals)}`);

  assert.ok(isRunning(worker.child), `the worker is still alive; its output:\n${output.text().slice(-3000)}`);
  process.kill(worker.child.pid!, 0); // throws if the process is gone

  for (const id of heldIds) assert.is((await bookingRow(id))?.status, 'pending_verified');
  leftovers = await outboxRowsOfGame();
  const kinds = leftovers.map((row) => `${row.kind}:${row.booking_id}`).sort();
  assert.equal(kinds, heldIds.flatMap((id) => [`booking_updated:${id}`, `slot_pending:${id}`]).sort(),
    'the outbox still holds both holds\' events: nothing could be published');
  assert.equal([...slotFeed.received, ...bookingFeed.received], [], 'no client heard of a hold whose events Redis refused');
  await assertInventoryMatches(cafe.game.id);
});

Outbox('Killed between commit and relay, the events still arrive once relayed', async () => {
  assert.ok(leftovers.length > 0, 'the first test left events in the outbox');
  await worker?.stop('SIGKILL');
  worker = null;
  assert.equal((await outboxRowsOfGame()).map((row) => row.id).sort(), leftovers.map((row) => row.id).sort(), 'the kill lost no outbox row');

  // A worker with full rights on the same Redis: its periodic relay sends what is older than 5 s.
  worker = startWorker({ REDIS_URL: redis.url() });
  const output = capture(worker.child);
  await worker.ready;

  // slot_pending to the slots room, booking_updated to the gamer's room (SPEC §9).
  const feedOf = (kind: string) => (kind === 'slot_pending' ? slotFeed : bookingFeed);
  const missing = () => leftovers.filter((row) => !feedOf(row.kind).received.some((entry) => entry.event === row.kind && entry.payload.event_id === row.id));
  await whileAlive(worker.child, output, async () => missing().length === 0,
    'every leftover event to reach its socket client', 30000).catch((error) => {
    throw new Error(`${(error as Error).message}; missing ${JSON.stringify(missing())}, received ${JSON.stringify([...slotFeed.received, ...bookingFeed.received])}`);
  });
  await whileAlive(worker.child, output, async () => (await outboxRowsOfGame()).length === 0, 'the relay to delete what it sent');

  // Delivery is at least once (clients deduplicate on event_id): every event is one it was owed,
  // in the room it belongs to, carrying its outbox row's stamp.
  const expected = new Map(leftovers.map((row) => [row.id, row]));
  for (const [room, feed] of [['slots', slotFeed], ['bookings', bookingFeed]] as const) {
    for (const { event, payload } of feed.received) {
      const row = expected.get(payload?.event_id);
      assert.ok(row, `unexpected ${event} in the ${room} room: ${JSON.stringify(payload)}`);
      assert.is(event, row!.kind, `event ${row!.id} arrived as ${event}`);
      assert.is(feedOf(event), feed, `${event} arrived in the ${room} room`);
      assert.is(payload.booking_id, row!.booking_id);
      assert.is(payload.occurred_at, row!.occurred_at);
    }
  }
  for (const id of heldIds) {
    const booking = (await bookingRow(id))!;
    const { event_id, occurred_at, ...pending } = slotFeed.received.find((entry) => entry.payload.booking_id === id)!.payload;
    assert.equal(pending, { vendor_id: cafe.vendor.id, game_id: cafe.game.id, slot_id: booking.slot_id, date: cafe.date, available_slot: 2, booking_id: id });
    const { event_id: updateId, occurred_at: updatedAt, ...updated } = bookingFeed.received.find((entry) => entry.payload.booking_id === id)!.payload;
    assert.equal(updated, { booking_id: id, user_id: cafe.user.id, vendor_id: cafe.vendor.id, game_id: cafe.game.id, slot_id: booking.slot_id, book_date: cafe.date, status: 'pending_verified' });
  }
  assert.ok(isRunning(worker.child), 'the relaying worker is alive');
  await assertInventoryMatches(cafe.game.id);
});

Outbox('Partitions stay serial after Redis lost its data', async () => {
  // The worker of the previous test; a fresh one if that test could not leave one running.
  if (!worker || !isRunning(worker.child)) {
    worker = startWorker({ REDIS_URL: redis.url() });
    await worker.ready;
  }
  const output = capture(worker.child);
  const names = bookingQueueNames();
  assert.is(names.length, config.bookingPartitions);
  // The key read below is the one BullMQ's own getter reads.
  assert.is(await partitionQueue.getGlobalConcurrency(), 1);
  assert.equal(await Promise.all(names.map((name) => control.hget(metaKey(name), 'concurrency'))), names.map(() => '1'));

  const marker = `${queuePrefix('outbox-test')}:marker`;
  await control.set(marker, 'before the restart');
  await redis.restart();
  assert.is(await control.exists(marker), 0, 'the restarted Redis lost every key');

  // The worker reconnects and sets each partition's global concurrency again (on reconnect, and
  // every 10 s): without it the partitions would run their jobs in parallel across processes.
  const concurrency = () => Promise.all(names.map((name) => control.hget(metaKey(name), 'concurrency')));
  await whileAlive(worker.child, output, async () => (await concurrency()).every((value) => value === '1'),
    'every partition\'s global concurrency to be 1 again', 25000);
  assert.equal(await concurrency(), names.map(() => '1'));
  assert.is(await partitionQueue.getGlobalConcurrency(), 1);
  assert.ok(isRunning(worker.child), 'the worker survived the restart');
});

Outbox('SIGTERM while Redis is down: the worker still stops, within its grace period', async () => {
  if (!worker || !isRunning(worker.child)) {
    worker = startWorker({ REDIS_URL: redis.url() });
    await worker.ready;
  }
  const stopping = worker;
  worker = null;
  await redis.stop(); // the worker's connections start reconnecting, forever
  stopping.child.kill('SIGTERM');
  // BullMQ's close waits for connections that never end while Redis is away; the worker gives up
  // waiting after its grace period (15 s) instead of hanging.
  const code = await Promise.race([stopping.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 25_000))]);
  if (code === 'still running') stopping.child.kill('SIGKILL');
  assert.is.not(code, 'still running', 'the worker exited');
});

Outbox.run();
