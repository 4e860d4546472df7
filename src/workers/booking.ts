import { appendFileSync } from 'fs';
import { Job, UnrecoverableError } from 'bullmq';
import { config } from '../config';
import { db } from '../db/knex';
import { applyHolds, configuredHoldLimits } from '../db/holds';
import { cancelBooking, ChangeResult, moveBooking, releaseHolds } from '../db/booking-changes';
import { BookingEvent } from '../db/inventory';
import { Outcome } from '../domain/booking-types';
import { slotKey } from '../domain/slot-key';
import { AnyBookingJobData, bookingPayloadProblem, CancelJobData, HoldJobData, MoveJobData, ReleaseJobData } from '../jobs/booking';
import { logger } from '../logger';
import { publishEvents } from './publish-events';

// The processors of the booking partitions: hold, release, cancel, move. Each job is one database
// transaction. A refusal (full slot, wrong owner, bad state) is a result the API hands back; only
// an exception (database gone, deadlock) fails the attempt, and BullMQ retries it with backoff.

type Processed = { outcomes: Outcome[]; events: BookingEvent[] };

async function runChanges<R>(requests: R[], change: (trx: Parameters<Parameters<typeof db.transaction>[0]>[0], request: R) => Promise<ChangeResult>): Promise<Processed> {
  return db.transaction(async (trx) => {
    const results: ChangeResult[] = [];
    for (const request of requests) results.push(await change(trx, request));
    return { outcomes: results.map((r) => r.outcome), events: results.flatMap((r) => r.events) };
  });
}

const processors: Record<string, (data: any, job: Job) => Promise<Processed>> = {
  hold: (data: HoldJobData, job) => db.transaction((trx) => applyHolds(trx, data.requests, configuredHoldLimits(), {
    mayHaveRun: job.attemptsStarted !== 1,
  })),
  cancel: (data: CancelJobData) => runChanges(data.requests, (trx, request) => cancelBooking(trx, request)),
  move: (data: MoveJobData) => runChanges(data.requests, (trx, request) => moveBooking(trx, request)),
  release: (data: ReleaseJobData) => runChanges(data.requests, (trx, request) => releaseHolds(trx, request)),
};

/** The slot keys a job read or changed, for the optional trace that proves serial runs. */
function keysOf(name: string, data: AnyBookingJobData, events: BookingEvent[]): string[] {
  const requested = name === 'hold' ? (data as HoldJobData).requests.map((r) => slotKey(r.gameId, r.bookDate)) : [];
  const changed = events.flatMap((e) => (e.kind === 'booking_updated' ? [] : [slotKey(e.payload.game_id, e.payload.date)]));
  return [...new Set([...requested, ...changed])];
}

export async function processBookingJob(job: Job<AnyBookingJobData, Outcome[]>): Promise<Outcome[]> {
  const problem = bookingPayloadProblem(job.name, job.data);
  if (problem) throw new UnrecoverableError(`invalid ${job.name} job: ${problem}`);
  const log = logger.child({
    jobId: job.id, queue: job.queueName, job: job.name,
    requestIds: job.data.requests.map((r: { httpRequestId?: string }) => r.httpRequestId).filter(Boolean),
  });
  const startedAt = performance.timeOrigin + performance.now();
  const { outcomes, events } = await processors[job.name](job.data, job);
  const endedAt = performance.timeOrigin + performance.now();
  if (config.bookingTraceFile) {
    appendFileSync(config.bookingTraceFile, `${JSON.stringify({ pid: process.pid, queue: job.queueName, job: job.id, name: job.name, keys: keysOf(job.name, job.data, events), startedAt, endedAt })}\n`);
  }
  publishEvents(events);
  log.debug({ requests: outcomes.length, statuses: outcomes.map((o) => o.status), ms: Math.round((endedAt - startedAt) * 10) / 10 }, 'booking job done');
  return outcomes;
}
