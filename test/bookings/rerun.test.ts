import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from 'pg';
import { config } from '../../src/config';
import { db } from '../../src/db/knex';
import { bookingQueue, partitionForKey } from '../../src/jobs/booking';
import { HoldRequest } from '../../src/domain/booking-types';
import { api } from '../helpers/api';
import { assertInventoryMatches, availableUnits, bookingCafe, eventually, lockWaiters, postHold } from '../helpers/bookings';
import { startWorkers, stopWorkers, WorkerProcess } from '../helpers/workers';

// SPEC §2, request ledger: a job whose worker paused longer than its job lock is taken over and
// run again by another worker while the first run is still inside its transaction. The first run
// commits the hold; the re-run must find that run's ledger row (waiting for it, then reading it)
// and answer as it did — never decide again against the first run's own booking and answer 409.

const Rerun = suite('a job re-run after its worker paused past its lock');

// JOB_LOCK_MS=1000: a stopped worker loses its job within a second or two. The database waits in
// this scenario are deliberate (the gate, then the re-run waiting for the first run), and must
// outlast the takeover, so the workers' lock and statement timeouts are raised for this suite.
const workerEnv = { JOB_LOCK_MS: '1000', DB_LOCK_TIMEOUT_MS: '30000', DB_STATEMENT_TIMEOUT_MS: '60000' };
let workers: WorkerProcess[] = [];

Rerun.after(async () => {
  for (const w of workers) {
    try { process.kill(w.child.pid!, 'SIGCONT'); } catch { /* already gone */ }
  }
  await stopWorkers(workers);
  workers = [];
});

/** What the sessions of this test database are doing, for a failure message. */
async function sessions(): Promise<string> {
  const rows = (await db.raw(
    `SELECT pid, state, wait_event_type, wait_event, left(query, 80) AS query FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY pid`,
  )).rows;
  return JSON.stringify(rows);
}

Rerun('a re-run never answers 409 for a hold that committed', async () => {
  workers = await startWorkers(2, workerEnv);
  const cafe = await bookingCafe({ total_slots: 1 });
  const slot = cafe.slots[15];
  const queue = bookingQueue(partitionForKey(cafe.game.id, cafe.date));

  // The gate: the user's row locked by a session of its own (no bounded waits: it must stay open
  // for as long as the takeover takes), so the hold stops inside its transaction, after its
  // request-ledger claim and before it decides anything.
  const gate = new Client({ connectionString: config.databaseUrl });
  await gate.connect();
  let gateOpen = false;
  let paused: WorkerProcess | undefined;
  try {
    await gate.query('BEGIN');
    gateOpen = true;
    await gate.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [cafe.user.id]);

    const accepted = await postHold(cafe.token, { slot_id: slot.id, user_id: cafe.user.id, game_id: cafe.game.id, book_date: cafe.date }, { Prefer: 'respond-async' });
    assert.is(accepted.status, 202, JSON.stringify(accepted.body));
    const publicId: string = accepted.body.job_id;

    const job = await eventually(async () => (await queue.getActive())
      .find((j) => j.processedBy && j.data.requests.some((r: HoldRequest) => r.userId === cafe.user.id)), 'the hold to be running', 10000);
    // Blocked on the gate: the first run's session waits for the user's lock.
    await eventually(async () => (await lockWaiters()) >= 1, 'the first run to wait on the gate', 10000)
      .catch(async (error) => { throw new Error(`${error.message}; job ${job.id} is ${await job.getState()}; sessions: ${await sessions()}`); });
    paused = workers.find((w) => job.processedBy!.endsWith(`:${w.child.pid}`));
    assert.ok(paused, `the job's worker (${job.processedBy}) is one of ours`);
    const other = workers.find((w) => w !== paused)!;

    // A worker paused longer than its job lock (a long GC pause, a frozen VM).
    process.kill(paused!.child.pid!, 'SIGSTOP');
    const takenOver = await eventually(async () => {
      const current = await queue.getJob(job.id!);
      return current && current.attemptsStarted >= 2 && current.processedBy?.endsWith(`:${other.child.pid}`) ? current : undefined;
    }, 'the other worker to take the job over', 20000, 100);
    assert.ok(takenOver.attemptsStarted >= 2);
    // Both runs are inside the database now: the first waits for the gate, the re-run for the first.
    await eventually(async () => (await lockWaiters()) >= 2, 'the re-run to wait for the first run as well', 10000)
      .catch(async (error) => { throw new Error(`${error.message}; sessions: ${await sessions()}`); });

    await gate.query('ROLLBACK');
    gateOpen = false;
    process.kill(paused!.child.pid!, 'SIGCONT');

    // The re-run's own answer is the BullMQ job's result (the paused worker lost its lock, so its
    // completion is refused): it must be the first run's answer, read from the ledger.
    const finished = await eventually(async () => {
      const current = await queue.getJob(job.id!);
      return current && (await current.getState()) === 'completed' ? current : undefined;
    }, 'the job to complete', 20000, 100);
    const index = job.data.requests.findIndex((r: HoldRequest) => r.userId === cafe.user.id);
    const rerunAnswer = finished.returnvalue[index];
    assert.is(rerunAnswer.status, 201, `the re-run answered ${JSON.stringify(rerunAnswer)}`);

    const answer = await eventually(async () => {
      const response = await api('GET', `/jobs/${publicId}`, { token: cafe.token });
      return response.body?.state === 'completed' || response.body?.state === 'failed' ? response.body : undefined;
    }, `GET /jobs/${publicId} to end`, 10000, 100);
    assert.is(answer.state, 'completed', JSON.stringify(answer));
    assert.is(answer.status, 201, `a hold that committed was answered ${JSON.stringify(answer)}`);
    assert.equal(rerunAnswer.body, answer.result, 'the re-run answers exactly what the first run answered');

    const answeredIds = answer.result.bookings.map((b: { booking_id: number }) => b.booking_id);
    const storedIds = (await db('bookings').where({ user_id: cafe.user.id }).orderBy('id').pluck('id')) as number[];
    assert.equal(storedIds, answeredIds, 'the bookings the answer names are exactly the user\'s bookings');
    assert.is(storedIds.length, 1);
    const [booking] = await db('bookings').whereIn('id', storedIds).select('status', 'slot_id', 'book_date');
    assert.equal(booking, { status: 'pending_verified', slot_id: slot.id, book_date: cafe.date });
    assert.is(await availableUnits(slot.id, cafe.date), 0);
    const ledger = await db('request_ledger').where({ user_id: cafe.user.id }).select('state', 'status', 'answer');
    assert.equal(ledger, [{ state: 'completed', status: 201, answer: answer.result }], 'one ledger row, answered once');
    await assertInventoryMatches(cafe.game.id);
  } finally {
    if (paused) {
      try { process.kill(paused.child.pid!, 'SIGCONT'); } catch { /* already gone */ }
    }
    if (gateOpen) await gate.query('ROLLBACK').catch(() => undefined);
    await gate.end().catch(() => undefined);
  }
});

Rerun.run();
