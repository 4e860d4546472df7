import { appendFileSync } from 'fs';
import { Job, UnrecoverableError } from 'bullmq';
import { config } from '../config';
import { Knex } from 'knex';
import { db, prepared, Transaction } from '../db/knex';
import { applyHolds, configuredHoldLimits } from '../db/holds';
import { cancelBooking, ChangeResult, moveBooking, releaseHolds } from '../db/booking-changes';
import { BookingEvent } from '../db/inventory';
import { JobSpec, nothingOutbound, outboxInsert } from '../db/outbox';
import { confirmBookings } from '../db/confirmations';
import { vendorSyncJobs } from '../jobs/vendor-sync';
import { LedgerContext, Ledgered, runLedgered } from '../db/request-ledger';
import { Outcome } from '../domain/booking-types';
import { slotKey } from '../domain/slot-key';
import { AnyBookingJobData, bookingPayloadProblem, BookingJobName, HoldJobData } from '../jobs/booking';
import { formatJobRef } from '../jobs/job-ref';
import { logger } from '../logger';
import { relayAfterCommit } from './relay';
import { announceJobEnd } from '../jobs/job-waiter';
import { clientRedis } from '../jobs/connection';

// The processors of the booking partitions: hold, release, cancel, move, confirm. Each job is one
// database transaction that records every request's answer in the request ledger and its events
// and jobs (vendor-sync, refunds) in the outbox; they are relayed after the commit. A refusal (full slot, wrong owner, bad state)
// is a result the API hands back; only an exception (database gone, lock timeout, deadlock) fails
// the attempt, and BullMQ retries it with backoff.

type Decided = { outcomes: Outcome[]; events: BookingEvent[]; jobs?: JobSpec[] };

/** The endpoint a request of each job came from, as the request ledger records it. */
const ENDPOINTS: Record<BookingJobName, string> = {
  hold: 'POST /bookings',
  cancel: 'DELETE /bookings/:booking_id',
  move: 'PUT /bookings/:booking_id',
  release: 'POST /release_slot',
  confirm: 'POST /bookings/confirm',
};

/** Requests of one job that each change one booking, decided one after another. */
function oneByOne<R>(change: (trx: Transaction, request: R) => Promise<ChangeResult>) {
  return async (trx: Transaction, requests: R[]): Promise<Decided> => {
    const results: ChangeResult[] = [];
    for (const request of requests) results.push(await change(trx, request));
    return { outcomes: results.map((r) => r.outcome), events: results.flatMap((r) => r.events), jobs: results.flatMap((r) => r.jobs ?? []) };
  };
}

const deciders: Record<BookingJobName, (trx: Transaction, requests: any[]) => Promise<Decided>> = {
  hold: (trx, requests) => applyHolds(trx, requests, configuredHoldLimits()),
  cancel: oneByOne(cancelBooking),
  move: oneByOne((trx, request) => moveBooking(trx, request, config.maxDaysAhead)),
  release: oneByOne(releaseHolds),
  confirm: oneByOne(confirmBookings),
};

/** The slot keys a job read or changed, for the optional trace that proves serial runs. */
function keysOf(name: string, data: AnyBookingJobData, events: BookingEvent[]): string[] {
  const requested = name === 'hold' ? (data as HoldJobData).requests.map((r) => slotKey(r.gameId, r.bookDate)) : [];
  const changed = events.flatMap((e) => (e.kind === 'booking_updated' ? [] : [slotKey(e.payload.game_id, e.payload.date)]));
  return [...new Set([...requested, ...changed])];
}

/** The advisory lock namespace of the booking partitions (vendor tables use another). */
const PARTITION_LOCK = 0x626b6e67; // 'bkng'

/** When a job's transaction held its partition's lock, for the optional trace (client clocks, inside the lock's hold). */
export interface LockedSpan {
  lockedFrom: number;
  lockedTo: number;
}

const clock = () => performance.timeOrigin + performance.now();

/**
 * For the rest of the transaction, the named prepared statements (prepared()) run on the plan
 * made once per connection. Left to choose, PostgreSQL planned the hot booking statements
 * (CTEs over array parameters) afresh at every bind: about 45% of their time (bind 2.0 of 3.9 ms
 * a hold job, read from log_min_duration_statement at 4 in flight; 0.4 ms with this). Only for
 * this transaction (SET LOCAL): elsewhere a generic plan could miss a partial index (the
 * sweeper's, status = 'pending_verified') that a query's bound status would have used.
 */
const GENERIC_PLANS = "set_config('plan_cache_mode', 'force_generic_plan', true)";

/**
 * One job's requests in one transaction: the ledger sets aside what was answered before, the
 * rest is decided, and every answer and event is written before the commit (in one statement).
 *
 * Its first statement sets generic plans (GENERIC_PLANS) and, with `queueName` (a booking
 * partition), takes that partition's advisory lock: PostgreSQL's line behind BullMQ's global
 * concurrency of 1. A Redis that lost its data (a master restarted empty) lets two workers take
 * jobs of one partition until a worker re-asserts the limit; the second then waits here for the
 * first's commit, bounded by lock_timeout.
 */
export async function runBookingTransaction(name: BookingJobName, requests: AnyBookingJobData['requests'], context: LedgerContext, pool: Knex = db, queueName?: string) {
  return pool.transaction(async (trx) => {
    if (queueName !== undefined) await prepared(trx, `SELECT pg_advisory_xact_lock(?, hashtext(?)), ${GENERIC_PLANS}`, [PARTITION_LOCK, queueName]);
    else await prepared(trx, `SELECT ${GENERIC_PLANS}`, []);
    const lockedFrom = clock();
    const out: { events: BookingEvent[]; insert: ReturnType<typeof outboxInsert> } = { events: [], insert: null };
    const outcomes = await runLedgered(trx, requests as Ledgered[], context, async (open) => {
      const decided = await deciders[name](trx, open);
      out.events = decided.events;
      out.insert = outboxInsert(decided.events, [...(decided.jobs ?? []), ...vendorSyncJobs(decided.events)]);
      return decided.outcomes;
    }, () => out.insert?.statement ?? null);
    const span: LockedSpan = { lockedFrom, lockedTo: clock() };
    return { outcomes, events: out.events, messages: out.insert?.outbound ?? nothingOutbound(), span };
  });
}

export async function processBookingJob(job: Job<AnyBookingJobData, Outcome[]>): Promise<Outcome[]> {
  const problem = bookingPayloadProblem(job.name, job.data);
  if (problem) throw new UnrecoverableError(`invalid ${job.name} job: ${problem}`);
  const name = job.name as BookingJobName;
  const log = logger.child({
    jobId: job.id, queue: job.queueName, job: name,
    requestIds: job.data.requests.map((r: { httpRequestId?: string }) => r.httpRequestId).filter(Boolean),
  });
  const requests = job.data.requests as Array<{ publicJobId?: string }>;
  const context = {
    endpoint: ENDPOINTS[name],
    jobIdOf: (index: number) => requests[index].publicJobId ?? formatJobRef({ queueName: job.queueName, jobId: job.id!, index }),
  };
  const startedAt = clock();
  const { outcomes, events, messages, span } = await runBookingTransaction(name, job.data.requests, context, db, job.queueName);
  const endedAt = clock();
  relayAfterCommit(messages);
  if (config.bookingTraceFile) {
    appendFileSync(config.bookingTraceFile, `${JSON.stringify({ pid: process.pid, queue: job.queueName, job: job.id, name, keys: keysOf(name, job.data, events), startedAt, endedAt, ...span })}\n`);
  }
  // The answers are committed (in the ledger): the waiting requests hear them now rather than after
  // BullMQ's bookkeeping, so the partition's next batch is on its way while this job is being
  // marked completed, and the worker takes it straight from that. A re-run answers the same.
  announceJobEnd(clientRedis(), job.queueName, job.id!, { state: 'completed', returnvalue: outcomes });
  log.debug({ requests: outcomes.length, statuses: outcomes.map((o) => o.status), ms: Math.round((endedAt - startedAt) * 10) / 10 }, 'booking job done');
  return outcomes;
}
