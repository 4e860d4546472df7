import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ChildProcess, spawn } from 'child_process';
import path from 'path';
import { config } from '../../src/config';
import { db } from '../../src/db/knex';
import { bookingQueue, partitionForKey } from '../../src/jobs/booking';
import { api } from '../helpers/api';
import {
  assertInventoryMatches, availableUnits, bookingCafe, eventually, holdOrFail, lockWaiters, makeCustomer, postHold,
} from '../helpers/bookings';
import { startWorkers, stopWorkers, WorkerProcess } from '../helpers/workers';

// SPEC §2, bounded waits: every connection has lock_timeout, idle_in_transaction_session_timeout
// and statement_timeout, so one transaction left open by a host that was cut off (frozen VM,
// network partition: its TCP connection stays open, nobody will ever commit) cannot freeze the
// partition whose rows it locked. The lock wait is a transient error, retried with backoff, and
// once the server ended the stuck transaction the work goes through.

const Bounded = suite('bounded waits');

const LOCK_TIMEOUT_MS = 300;
let workers: WorkerProcess[] = [];
let workerOutput = '';

Bounded.before(async () => {
  workers = await startWorkers(1, { DB_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS) });
  for (const w of workers) w.child.stdout!.on('data', (chunk: Buffer) => { workerOutput += chunk.toString(); });
});

Bounded.after(async () => {
  await stopWorkers(workers);
  workers = [];
});

/** A duration as PostgreSQL's SHOW prints it ('0', '300ms', '3s', '10min'), in milliseconds. */
function millis(shown: string): number {
  const match = /^(\d+)\s*(ms|s|min|h|d)?$/.exec(shown.trim());
  if (!match) throw new Error(`not a duration: ${shown}`);
  const unit = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms']!;
  return Number(match[1]) * unit;
}

async function shown(name: string, runner: { raw: typeof db.raw } = db): Promise<number> {
  return millis((await runner.raw(`SHOW ${name}`)).rows[0][name]);
}

Bounded('the service pool sets lock_timeout, idle_in_transaction_session_timeout and statement_timeout from its config', async () => {
  const outside = {
    lock_timeout: await shown('lock_timeout'),
    idle_in_transaction_session_timeout: await shown('idle_in_transaction_session_timeout'),
    statement_timeout: await shown('statement_timeout'),
  };
  for (const [name, value] of Object.entries(outside)) assert.ok(value > 0, `the pool's sessions have a bounded ${name} (SHOW says ${value} ms, 0 is none)`);
  const expected = {
    lock_timeout: config.dbLockTimeoutMs,
    idle_in_transaction_session_timeout: config.dbIdleInTransactionTimeoutMs,
    statement_timeout: config.dbStatementTimeoutMs,
  };
  assert.equal(outside, expected, 'a plain query of the pool has the configured values');
  // And inside a transaction, as every booking job runs.
  const inside = await db.transaction(async (trx) => ({
    lock_timeout: await shown('lock_timeout', trx),
    idle_in_transaction_session_timeout: await shown('idle_in_transaction_session_timeout', trx),
    statement_timeout: await shown('statement_timeout', trx),
  }));
  assert.equal(inside, expected, 'a transaction of the pool has the configured values');
});

/** Starts the frozen-host helper on (slot, date) and resolves once it holds the lock. */
function startFrozenHost(slotId: number, bookDate: string): { child: ChildProcess; locked: Promise<{ pid: number; available: number }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'helpers', 'frozen-transaction.ts'), String(slotId), bookDate], {
    env: { ...process.env, DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '2500', HFG_PROCESS: 'frozen-host', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const locked = new Promise<{ pid: number; available: number }>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes('"frozen-transaction-locked"'));
      if (line) resolve(JSON.parse(line));
    });
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', (code, signal) => reject(new Error(`frozen host exited (${code ?? signal}) before it locked:\n${output.slice(-2000)}`)));
  });
  locked.catch(() => undefined);
  return { child, locked };
}

Bounded('a transaction left open by a cut-off host does not freeze its partition', async () => {
  const cafe = await bookingCafe({ total_slots: 2 });
  const slot = cafe.slots[11];
  // A first hold creates the inventory row of (slot, date); one unit stays free.
  const [first] = await holdOrFail(cafe, [slot.id]);
  assert.is(await availableUnits(slot.id, cafe.date), 1);

  const other = await makeCustomer();
  const host = startFrozenHost(slot.id, cafe.date);
  try {
    let timer: NodeJS.Timeout | undefined;
    const { pid: frozenBackend } = await Promise.race([
      host.locked,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('the frozen host did not lock the inventory row within 20 s')), 20000); }),
    ]).finally(() => clearTimeout(timer));
    // Cut off: the process stops, its connection stays open, its transaction stays open.
    process.kill(host.child.pid!, 'SIGSTOP');

    const outputBefore = workerOutput.length;
    const accepted = await postHold(other.token, { slot_id: slot.id, user_id: other.user.id, game_id: cafe.game.id, book_date: cafe.date }, { Prefer: 'respond-async' });
    assert.is(accepted.status, 202, JSON.stringify(accepted.body));
    const publicId: string = accepted.body.job_id;

    const bullJobId = publicId.split('.')[1];
    const queue = bookingQueue(partitionForKey(cafe.game.id, cafe.date));
    const answer = await eventually(async () => {
      const response = await api('GET', `/jobs/${publicId}`, { token: other.token });
      return response.body?.state === 'completed' || response.body?.state === 'failed' ? response.body : undefined;
    }, `the hold behind the frozen transaction (${publicId}) to end`, 15000, 100).catch(async (error) => {
      // Say where it is stuck.
      const job = await queue.getJob(bullJobId);
      const waiting = await lockWaiters();
      throw new Error(`${error.message}; the job is ${await job?.getState()} after ${job?.attemptsStarted} attempt(s) started, ${waiting} session(s) wait on a lock`);
    });
    assert.is(answer.state, 'completed', JSON.stringify(answer));
    assert.is(answer.status, 201, JSON.stringify(answer));

    // It got there by failing on the lock and retrying, not by waiting for as long as it took.
    const job = await queue.getJob(bullJobId);
    assert.ok(job, `BullMQ job ${bullJobId}`);
    assert.ok(job!.attemptsStarted >= 2, `the hold was attempted more than once (attemptsStarted ${job!.attemptsStarted})`);
    const failedAttempts = workerOutput.slice(outputBefore).split('\n')
      .filter((line) => line.includes('"job attempt failed"') && line.includes(bullJobId));
    assert.ok(failedAttempts.length >= 1, 'a failed attempt was logged');
    assert.ok(failedAttempts.every((line) => line.includes('lock timeout')), `the attempts failed on the lock timeout: ${failedAttempts.join('\n')}`);

    // The server ended the frozen transaction; nothing is left open.
    const frozenSession = await db.raw('SELECT state FROM pg_stat_activity WHERE pid = ?', [frozenBackend]);
    assert.equal(frozenSession.rows, [], 'the frozen host\'s session was ended by the server');
    await eventually(async () => (await db.raw(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
    )).rows[0].n === 0, 'no session of the test database to be idle in transaction', 5000);

    const second = answer.result.bookings[0].booking_id;
    const rows = await db('bookings').where({ game_id: cafe.game.id }).orderBy('id').select('id', 'user_id', 'status');
    assert.equal(rows, [
      { id: first, user_id: cafe.user.id, status: 'pending_verified' },
      { id: second, user_id: other.user.id, status: 'pending_verified' },
    ]);
    assert.is(await availableUnits(slot.id, cafe.date), 0);
    await assertInventoryMatches(cafe.game.id);
  } finally {
    // SIGKILL ends a stopped process too; its connection closes and the server drops the session.
    if (host.child.exitCode === null && host.child.signalCode === null) {
      const gone = new Promise((resolve) => host.child.once('exit', resolve));
      host.child.kill('SIGKILL');
      await gone;
    }
  }
});

Bounded.run();
