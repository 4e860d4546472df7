import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { db } from '../../src/db/knex';
import { randomUUID } from 'crypto';
import { api, tokenFor } from '../helpers/api';
import { bookingJobOptions, bookingQueue, partitionForKey } from '../../src/jobs/booking';
import { bookingQueueName } from '../../src/jobs/queues';
import { jobWaiter } from '../../src/jobs/job-waiter';
import { HoldRequest, Outcome } from '../../src/domain/booking-types';
import { assertInventoryMatches, useWorkers } from '../helpers/bookings';
import { dateInDays, makeGame, makeUser, makeVendor } from '../helpers/fixtures';

// SPEC §10.1 and §10.2 under real concurrency: parallel HTTP requests, two worker processes,
// then SQL. The workers record each job's start and end (BOOKING_TRACE_FILE) so the test can
// check, after the fact, which jobs ran at the same time.

const Concurrency = suite('booking concurrency');
const traceFile = path.join(os.tmpdir(), `hfg-trace-${process.pid}-${Date.now()}.jsonl`);
useWorkers(Concurrency, 2, { BOOKING_TRACE_FILE: traceFile });

interface TraceRecord {
  pid: number;
  queue: string;
  job: string;
  name: string;
  keys: string[];
  startedAt: number;
  endedAt: number;
  /** Inside the hold of the partition's advisory lock (src/workers/booking.ts). */
  lockedFrom: number;
  lockedTo: number;
}

function readTrace(): TraceRecord[] {
  return fs.readFileSync(traceFile, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

const overlaps = (a: TraceRecord, b: TraceRecord) => a.startedAt < b.endedAt && b.startedAt < a.endedAt;

Concurrency.after(() => fs.rmSync(traceFile, { force: true }));

Concurrency('100 parallel holds on a slot of capacity 3 give exactly 3 holds', async () => {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { total_slots: 3, slots: [['18:00', '19:00']] });
  const users = await Promise.all(Array.from({ length: 100 }, () => makeUser()));
  const bookDate = dateInDays(2);
  const answers = await Promise.all(users.map((user) => api('POST', '/bookings', {
    token: tokenFor('user', user.id),
    body: { slot_id: [slots[0].id], user_id: user.id, game_id: game.id, book_date: bookDate },
  })));
  const statuses = answers.map((a) => a.status);
  assert.is(statuses.filter((s) => s === 201).length, 3, `statuses: ${statuses.join(',')}`);
  assert.is(statuses.filter((s) => s === 409).length, 97);
  for (const refused of answers.filter((a) => a.status === 409)) {
    assert.is(refused.body.code, 'slot_unavailable');
    assert.equal(refused.body.details.unavailable_slot_ids, [slots[0].id]);
  }
  const live = await db('bookings').where({ slot_id: slots[0].id, book_date: bookDate }).whereIn('status', ['pending_verified', 'confirmed']).count<{ count: number }[]>('* as count');
  assert.is(Number(live[0].count), 3);
  const inventory = await db('slot_inventory').where({ slot_id: slots[0].id, book_date: bookDate }).first();
  assert.equal({ capacity: inventory.capacity, available: inventory.available }, { capacity: 3, available: 0 });
  await assertInventoryMatches();
});

Concurrency('jobs of one slot key never overlap across processes; jobs of different keys do', async () => {
  const vendor = await makeVendor();
  const games = await Promise.all(Array.from({ length: 12 }, () => makeGame(vendor.id, { total_slots: 100, slots: [['10:00', '11:00'], ['11:00', '12:00']] })));
  const users = await Promise.all(Array.from({ length: 60 }, () => makeUser()));
  const dates = [dateInDays(3), dateInDays(4)];
  fs.writeFileSync(traceFile, '');
  // A hot key (games[0] on dates[0]) contended by every round, plus a spread over 24 keys. The
  // jobs go straight into the partition queues, one hold each, all at once: as if from many web
  // processes, so many jobs of one partition wait together for the two worker processes.
  const jobs = users.flatMap((user, u) => [0, 1, 2].map((round) => {
    const { game, slots } = round === 0 ? games[0] : games[(u + round) % games.length];
    const bookDate = round === 0 ? dates[0] : dates[(u + round) % 2];
    const request: HoldRequest = {
      requestId: randomUUID(), actor: { userId: user.id, role: 'user', vendorId: null },
      userId: user.id, gameId: game.id, bookDate, slotIds: [slots[round % 2].id],
    };
    return { partition: partitionForKey(game.id, bookDate), jobId: request.requestId, request };
  }));
  const ends = jobs.map(({ partition, jobId }) => jobWaiter.wait(bookingQueueName(partition), jobId, 30_000));
  const byPartition = new Map<number, typeof jobs>();
  for (const job of jobs) byPartition.set(job.partition, [...(byPartition.get(job.partition) ?? []), job]);
  await Promise.all([...byPartition].map(([partition, queued]) => bookingQueue(partition).addBulk(queued.map(({ jobId, request }) => ({
    name: 'hold', data: { requests: [request] }, opts: { ...bookingJobOptions, jobId },
  })))));
  const statuses = (await Promise.all(ends)).map((end) => (end?.state === 'completed' ? (end.returnvalue as Outcome[])[0].status : end?.state));
  assert.ok(statuses.every((status) => status === 201), `statuses: ${[...new Set(statuses)].join(',')}`);

  const trace = readTrace().filter((r) => r.name === 'hold');
  assert.is(trace.length, jobs.length, 'every job traced once');
  // Which process runs which partition is BullMQ's choice (a worker that finishes a job takes the
  // partition's next one in the same call), so both need not appear; without global concurrency
  // both run one partition at once, and the overlap check below fails (checked).
  const sameKeyOverlaps: string[] = [];
  let parallelDifferentKeys = 0;
  for (let i = 0; i < trace.length; i++) {
    for (let j = i + 1; j < trace.length; j++) {
      const [a, b] = [trace[i], trace[j]];
      if (!overlaps(a, b)) continue;
      const shared = a.keys.filter((key) => b.keys.includes(key));
      if (shared.length) sameKeyOverlaps.push(`${shared.join(',')} in jobs ${a.job} (pid ${a.pid}) and ${b.job} (pid ${b.pid})`);
      else parallelDifferentKeys++;
    }
  }
  assert.equal(sameKeyOverlaps, [], 'jobs of one key ran at the same time');
  assert.ok(parallelDifferentKeys > 0, 'no two jobs of different keys ran at the same time');
  await assertInventoryMatches();
});

Concurrency('a partition that lost its limit in Redis still runs one transaction at a time: PostgreSQL is the second line', async () => {
  const vendor = await makeVendor();
  const { game, slots } = await makeGame(vendor.id, { total_slots: 10, slots: [['10:00', '11:00']] });
  const users = await Promise.all([makeUser(), makeUser()]);
  const bookDate = dateInDays(5);
  const partition = partitionForKey(game.id, bookDate);
  const queue = bookingQueue(partition);
  fs.writeFileSync(traceFile, '');
  // What a Redis that restarted without its data leaves behind until a worker re-asserts the
  // limit (on its reconnect, or every 10 s; neither comes within this test).
  await queue.removeGlobalConcurrency();
  await db('slot_inventory').insert({ slot_id: slots[0].id, book_date: bookDate, game_id: game.id, capacity: 10, available: 10 });
  const row = await db.transaction();
  try {
    // The slot's inventory row is held, so both jobs stay active at once while BullMQ has no limit.
    await row.raw('SELECT 1 FROM slot_inventory WHERE slot_id = ? AND book_date = ? FOR UPDATE', [slots[0].id, bookDate]);
    const jobs = users.map((user) => ({
      jobId: randomUUID(),
      request: { requestId: randomUUID(), actor: { userId: user.id, role: 'user', vendorId: null }, userId: user.id, gameId: game.id, bookDate, slotIds: [slots[0].id] } as HoldRequest,
    }));
    const ends = jobs.map(({ jobId }) => jobWaiter.wait(bookingQueueName(partition), jobId, 30_000));
    await queue.addBulk(jobs.map(({ jobId, request }) => ({ name: 'hold', data: { requests: [request] }, opts: { ...bookingJobOptions, jobId } })));
    let active = 0;
    for (const until = Date.now() + 5000; active < 2 && Date.now() < until;) {
      active = await queue.getActiveCount();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.is(active, 2, 'both jobs of the partition are active at once (BullMQ has no limit)');
    await row.commit();
    const statuses = (await Promise.all(ends)).map((end) => (end?.state === 'completed' ? (end.returnvalue as Outcome[])[0].status : end?.state));
    assert.equal(statuses, [201, 201]);
  } finally {
    if (!row.isCompleted()) await row.rollback();
    await queue.setGlobalConcurrency(1);
  }
  const trace = readTrace().filter((r) => r.name === 'hold');
  assert.is(trace.length, 2, 'both jobs traced');
  const [a, b] = trace;
  assert.ok(a.startedAt < b.endedAt && b.startedAt < a.endedAt, 'the two jobs ran at the same time');
  assert.ok(a.lockedTo <= b.lockedFrom || b.lockedTo <= a.lockedFrom, `their transactions overlapped: ${JSON.stringify(trace)}`);
  await assertInventoryMatches();
});

Concurrency.run();
