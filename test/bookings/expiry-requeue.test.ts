import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Job, Worker } from 'bullmq';
import knexFactory, { Knex } from 'knex';
import { db } from '../../src/db/knex';
import { bookingQueue, partitionForKey } from '../../src/jobs/booking';
import { bookingQueueName, queuePrefix } from '../../src/jobs/queues';
import { expiryJobId } from '../../src/jobs/sweeper';
import { createWorkerRedis, RedisConnection } from '../../src/redis';
import { sweepExpiredHolds } from '../../src/workers/sweeper';
import { assertInventoryMatches, availableUnits, bookingCafe, bookingRow, eventually, holdOrFail } from '../helpers/bookings';
import { startWorkers, stopWorkers, WorkerProcess } from '../helpers/workers';

// SPEC §2, sweeper: an expiry release that failed for good (its worker could not reach the
// database for all its attempts) must not keep its job id taken: the next sweep queues the
// release again, and a healthy worker gives the unit back.

const Requeue = suite('a failed expiry release');

let workers: WorkerProcess[] = [];
let failing: Worker | null = null;
let failingConnection: RedisConnection | null = null;
let unreachable: Knex | null = null;

Requeue.after(async () => {
  await failing?.close();
  failingConnection?.disconnect();
  await unreachable?.destroy();
  await stopWorkers(workers);
  workers = [];
});

Requeue('is queued again by the next sweep', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const slot = cafe.slots[13];
  const partition = partitionForKey(cafe.game.id, cafe.date);
  const queue = bookingQueue(partition);

  // The hold, made by a real worker that is then stopped: from here on no real worker runs.
  // (Its sweeper would only ever be slow to run: an hour.)
  workers = await startWorkers(1, { SWEEP_INTERVAL_MS: '3600000' });
  const [id] = await holdOrFail(cafe, [slot.id]);
  await stopWorkers(workers);
  workers = [];
  assert.equal(await queue.getWorkers(), [], 'no worker of any suite serves this partition');
  assert.is(await availableUnits(slot.id, cafe.date), 1);

  await db('bookings').where({ id }).update({ hold_expires_at: db.raw(`now() - interval '1 minute'`) });
  assert.ok((await sweepExpiredHolds()) >= 1, 'the sweep found the expired hold');
  const jobId = expiryJobId(id);
  assert.ok(await queue.getJob(jobId), `the sweep queued ${jobId} in partition ${partition}`);

  // A worker of this partition whose database is unreachable: every attempt fails, as the
  // real processor's would, on opening its transaction.
  const quiet = () => undefined;
  unreachable = knexFactory({
    client: 'pg', connection: 'postgres://postgres@127.0.0.1:1/unreachable', pool: { min: 0, max: 1 },
    log: { warn: quiet, error: quiet, debug: quiet, deprecate: quiet }, // the refused connections are expected
  });
  const failures: Array<{ jobId: string | undefined; attemptsMade: number | undefined; message: string }> = [];
  const queueName = bookingQueueName(partition);
  failingConnection = createWorkerRedis();
  failing = new Worker(queueName, async (job: Job) => {
    await unreachable!.transaction(async (trx) => trx.raw('SELECT ?::int AS id', [job.data.requests[0].bookingIds[0]]));
  }, { connection: failingConnection, prefix: queuePrefix(queueName), concurrency: 1 });
  failing.on('failed', (job, error) => failures.push({ jobId: job?.id, attemptsMade: job?.attemptsMade, message: error.message }));
  failing.on('error', () => undefined);

  const attempts = (await queue.getJob(jobId))?.opts.attempts ?? 5;
  assert.is(attempts, 5);
  await eventually(async () => failures.some((f) => f.jobId === jobId && f.attemptsMade === attempts),
    `${jobId} to fail all ${attempts} attempts`, 15000, 50);
  assert.is(failures.filter((f) => f.jobId === jobId).length, attempts, JSON.stringify(failures));
  // Failed for good: not waiting, delayed or running any more.
  await eventually(async () => ['failed', 'unknown'].includes(await queue.getJobState(jobId)), `${jobId} to have ended`, 5000);
  await failing.close();
  failing = null;
  failingConnection.disconnect();
  failingConnection = null;
  assert.is((await bookingRow(id))!.status, 'pending_verified', 'nothing changed while the database was unreachable');
  assert.is(await availableUnits(slot.id, cafe.date), 1);

  // A healthy worker, and the next sweep.
  workers = await startWorkers(1, { SWEEP_INTERVAL_MS: '3600000' });
  assert.ok((await sweepExpiredHolds()) >= 1, 'the next sweep still finds the expired hold');
  try {
    await eventually(async () => (await bookingRow(id))!.status === 'verification_failed',
      `booking ${id} to be released by the re-queued expiry`, 10000, 100);
  } catch (error) {
    // Say what kept the release from being queued again.
    const left = await queue.getJob(jobId);
    throw new Error(`${(error as Error).message}; ${jobId} is ${await queue.getJobState(jobId)}${left ? ` (failed reason: ${left.failedReason}, attempts made: ${left.attemptsMade})` : ''}`);
  }
  assert.is(await availableUnits(slot.id, cafe.date), 2, 'the unit came back');
  assert.equal(await db('bookings').where({ game_id: cafe.game.id }).pluck('status'), ['verification_failed']);
  await assertInventoryMatches(cafe.game.id);
});

Requeue.run();
