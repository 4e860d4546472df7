import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { config } from '../../src/config';
import { bookingQueue } from '../../src/jobs/booking';
import { HoldRequest } from '../../src/domain/booking-types';
import { api, tokenFor } from '../helpers/api';
import { dateInDays, makeGame, makeUser, makeVendor } from '../helpers/fixtures';
import { startWorker, startWorkers, stopWorkers, WorkerProcess } from '../helpers/workers';
import { assertInventoryMatches, eventually } from '../helpers/bookings';

// A worker process killed with SIGKILL in the middle of a stream of holds: its claimed job goes
// back to the queue when its lock lapses (JOB_LOCK_MS), another process runs it, and in the end
// every accepted hold has exactly one answer and the bookings that answer names — none lost,
// none doubled.

const Crash = suite('kill -9 of a worker mid-stream');
const workerEnv = { JOB_LOCK_MS: '1000' };
let workers: WorkerProcess[] = [];

Crash.after(async () => {
  await stopWorkers(workers);
});

Crash('no accepted hold is lost or doubled', async () => {
  workers = await startWorkers(2, workerEnv);
  const vendor = await makeVendor();
  const games = await Promise.all(Array.from({ length: 6 }, () => makeGame(vendor.id, { total_slots: 4, slots: [['10:00', '11:00'], ['11:00', '12:00']] })));
  const users = await Promise.all(Array.from({ length: 40 }, () => makeUser()));
  const dates = [dateInDays(6), dateInDays(7)];
  // 240 holds on 24 keys of 4 units each: 96 can succeed, the rest must be refused.
  const requests = Array.from({ length: 240 }, (_, i) => {
    const user = users[i % users.length];
    const { game, slots } = games[i % games.length];
    return { user, body: { slot_id: slots[Math.floor(i / 6) % 2].id, user_id: user.id, game_id: game.id, book_date: dates[Math.floor(i / 12) % 2] } };
  });

  // The first gamer's row is locked here, so the job holding for them stops mid-transaction: the
  // worker running it is then killed at a known point, not wherever it happened to be.
  const gate = await db.transaction();
  await gate('users').where('id', users[0].id).forUpdate().first('id');

  const accepted: Array<{ jobId: string; token: string }> = [];
  let next = 0;
  const send = async () => {
    while (next < requests.length) {
      const { user, body } = requests[next++];
      const token = tokenFor('user', user.id);
      const response = await api('POST', '/bookings', { token, body, headers: { Prefer: 'respond-async' } });
      assert.is(response.status, 202, JSON.stringify(response.body));
      accepted.push({ jobId: response.body.job_id, token });
    }
  };
  const senders = Promise.all(Array.from({ length: 8 }, send));
  await eventually(async () => next >= 80, 'a third of the holds to be sent');
  const stuck = await eventually(async () => {
    for (let partition = 0; partition < config.bookingPartitions; partition++) {
      for (const job of await bookingQueue(partition).getActive()) {
        if (job.data.requests.some((r: HoldRequest) => r.userId === users[0].id)) return job;
      }
    }
    return undefined;
  }, 'the gated job to be running');
  const victim = workers.find((w) => stuck.processedBy?.endsWith(`:${w.child.pid}`));
  assert.ok(victim, `the job's worker (${stuck.processedBy}) is one of ours`);
  await victim!.stop('SIGKILL');
  await gate.rollback();
  workers = [...workers.filter((w) => w !== victim), startWorker(workerEnv)];
  await senders;
  await Promise.all(workers.map((w) => w.ready));

  const answers = await Promise.all(accepted.map(({ jobId, token }) => eventually(async () => {
    const job = await api('GET', `/jobs/${jobId}`, { token });
    return job.body.state === 'completed' || job.body.state === 'failed' ? job.body : undefined;
  }, `job ${jobId} to finish`, 30000, 100)));
  assert.is(answers.length, 240);
  assert.equal(answers.filter((a) => a.state !== 'completed'), [], 'every accepted hold completes');
  const held = answers.filter((a) => a.status === 201);
  const odd = answers.filter((a) => a.status !== 201 && a.error?.code !== 'slot_unavailable');
  assert.equal(odd, [], 'answers are holds or full slots');
  assert.is(held.length, 96, 'every unit of every key was taken exactly once');
  const rerun = await bookingQueue(Number(stuck.queueName.split('-').pop())).getJob(stuck.id!);
  assert.ok(rerun!.attemptsStarted >= 2, 'the killed job was taken over and run again');

  const answeredIds = held.flatMap((a) => a.result.bookings.map((b: { booking_id: number }) => b.booking_id)).sort((a, b) => a - b);
  const storedIds = (await db('bookings').whereIn('game_id', games.map((g) => g.game.id)).orderBy('id').pluck('id')) as number[];
  assert.equal(storedIds, answeredIds, 'the bookings in the database are exactly the answered ones');
  await assertInventoryMatches();
});

Crash.run();
