import { randomUUID } from 'crypto';
import { JobsOptions } from 'bullmq';
import Ajv from 'ajv';
import { config } from '../config';
import { slotKey, partitionOf } from '../domain/slot-key';
import { CancelRequest, ConfirmRequest, HoldRequest, MoveRequest, ReleaseRequest } from '../domain/booking-types';
import { bookingQueueName, queue } from './queues';
import { JobEnd, jobWaiter } from './job-waiter';
import { JobRef } from './job-ref';
import { requireRedisReady } from './connection';
import { logger } from '../logger';

// The booking queue: BOOKING_PARTITIONS partition queues, each running one job at a time across
// every worker process (global concurrency 1), so the jobs of one slot key never overlap.
//
// Holds are batched on the way in: while a partition already has a hold job of this process
// queued or running, new holds for it wait here and leave together as the next job. A
// hot slot then costs one job and one transaction per batch instead of per request, and a quiet
// one still leaves at once. Each request keeps its own public job id (JobRef).

export type BookingJobName = 'hold' | 'cancel' | 'move' | 'release' | 'confirm';

export interface BookingJobData<R> {
  requests: R[];
}
export type HoldJobData = BookingJobData<HoldRequest>;
export type CancelJobData = BookingJobData<CancelRequest>;
export type MoveJobData = BookingJobData<MoveRequest>;
export type ReleaseJobData = BookingJobData<ReleaseRequest>;
export type ConfirmJobData = BookingJobData<ConfirmRequest>;
export type AnyBookingJobData = HoldJobData | CancelJobData | MoveJobData | ReleaseJobData | ConfirmJobData;

const MAX_BATCH = 64;
/** One job per partition in flight per web process: what waits meanwhile becomes the next batch. */
const MAX_IN_FLIGHT = 1;
/** A batch whose completion was never heard of stops blocking the next one after this long. */
const IN_FLIGHT_TIMEOUT_MS = 1000;

export const bookingJobOptions: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 100 },
  removeOnComplete: { age: 3600, count: 100_000 },
  removeOnFail: { age: 24 * 3600 },
};

export function partitionForKey(gameId: number, bookDate: string): number {
  return partitionOf(slotKey(gameId, bookDate), config.bookingPartitions);
}

export function bookingQueue(partition: number) {
  return queue(bookingQueueName(partition));
}

export interface Submitted {
  ref: JobRef;
  /** Settles when the job ends; registered before the job was added, so it cannot be missed. */
  done: Promise<JobEnd | null>;
}

// ---- payload schemas: the worker refuses a job whose data does not match -------------------

const actorSchema = {
  type: 'object',
  properties: {
    userId: { type: 'integer', minimum: 1 },
    role: { type: 'string', enum: ['user', 'vendor', 'admin'] },
    vendorId: { type: 'integer', minimum: 1, nullable: true },
  },
  required: ['userId', 'role', 'vendorId'],
  additionalProperties: false,
};
const id = { type: 'integer', minimum: 1 } as const;
const date = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } as const;
const requestId = { type: 'string', minLength: 1, maxLength: 100 } as const;
const httpRequestId = { type: 'string', maxLength: 100 } as const;
const idempotencySchema = {
  type: 'object',
  properties: { endpoint: { type: 'string' }, key: { type: 'string' }, requestHash: { type: 'string' } },
  required: ['endpoint', 'key', 'requestHash'],
  additionalProperties: false,
} as const;

function requestsSchema(item: object): object {
  return {
    type: 'object',
    properties: { requests: { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: item } },
    required: ['requests'],
    additionalProperties: false,
  };
}

const schemas: Record<BookingJobName, object> = {
  hold: requestsSchema({
    type: 'object',
    properties: {
      requestId, httpRequestId, actor: actorSchema, userId: id, gameId: id, bookDate: date,
      slotIds: { type: 'array', minItems: 1, items: id },
      idempotency: idempotencySchema,
    },
    required: ['requestId', 'actor', 'userId', 'gameId', 'bookDate', 'slotIds'],
    additionalProperties: false,
  }),
  cancel: requestsSchema({
    type: 'object',
    properties: { requestId, httpRequestId, actor: actorSchema, bookingId: id },
    required: ['requestId', 'actor', 'bookingId'],
    additionalProperties: false,
  }),
  move: requestsSchema({
    type: 'object',
    properties: { requestId, httpRequestId, actor: actorSchema, bookingId: id, slotId: id, bookDate: date },
    required: ['requestId', 'actor', 'bookingId', 'slotId', 'bookDate'],
    additionalProperties: false,
  }),
  release: requestsSchema({
    type: 'object',
    properties: { requestId, httpRequestId, actor: { ...actorSchema, nullable: true }, bookingIds: { type: 'array', minItems: 1, items: id } },
    required: ['requestId', 'actor', 'bookingIds'],
    additionalProperties: false,
  }),
  confirm: requestsSchema({
    type: 'object',
    properties: {
      requestId, httpRequestId, actor: { ...actorSchema, nullable: true }, userId: id,
      bookingIds: { type: 'array', minItems: 1, items: id },
      promoCode: { type: 'string', minLength: 1, maxLength: 64 },
      payment: {
        type: 'object',
        properties: {
          mode: { type: 'string', enum: ['wallet', 'payment_gateway'] },
          paymentId: { type: 'string', minLength: 1, maxLength: 64 },
          orderId: { type: 'string', minLength: 1, maxLength: 64 },
        },
        required: ['mode'],
        additionalProperties: false,
      },
      publicJobId: { type: 'string', maxLength: 200 },
      idempotency: idempotencySchema,
    },
    required: ['requestId', 'actor', 'userId', 'bookingIds', 'payment'],
    additionalProperties: false,
  }),
};

const ajv = new Ajv({ allErrors: true, strict: true });
const validators = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, ajv.compile(schema)]));

/** Null when `data` is a valid payload for job `name`, else what is wrong with it. */
export function bookingPayloadProblem(name: string, data: unknown): string | null {
  const validate = validators[name];
  if (!validate) return `unknown booking job "${name}"`;
  return validate(data) ? null : ajv.errorsText(validate.errors);
}

// ---- enqueueing -----------------------------------------------------------------------------

/** Adds a job, listening for its end first. The promise is wrapped: awaiting must not wait for it. */
async function addJob(partition: number, name: BookingJobName, data: AnyBookingJobData, jobId: string): Promise<{ done: Promise<JobEnd | null> }> {
  await requireRedisReady();
  const queueName = bookingQueueName(partition);
  const done = jobWaiter.wait(queueName, jobId, config.syncWaitMs + IN_FLIGHT_TIMEOUT_MS);
  try {
    await bookingQueue(partition).add(name, data, { ...bookingJobOptions, jobId });
  } catch (error) {
    if (!sentWithoutAnswer(error)) throw error;
    // The add reached a Redis that did not answer in time (frozen, stalled): it runs once Redis
    // does. A 503 would invite the HFG app's retry (without an Idempotency-Key) to hold twice, so
    // the request waits for its job as usual: the job's own answer, or 202 with its id to poll.
    logger.warn({ err: error, queue: queueName, jobId }, 'job add unanswered by Redis; waiting for the job itself');
  }
  return { done };
}

/** ioredis's commandTimeout: the command was written to Redis, which had not answered within the bound. */
function sentWithoutAnswer(error: unknown): boolean {
  return error instanceof Error && error.message === 'Command timed out';
}

/** One request, one job: cancel, move, release. */
export async function enqueueBookingJob<N extends Exclude<BookingJobName, 'hold'>>(
  name: N,
  partition: number,
  request: N extends 'cancel' ? CancelRequest : N extends 'move' ? MoveRequest : N extends 'confirm' ? ConfirmRequest : ReleaseRequest,
  options: { jobId?: string } = {},
): Promise<Submitted> {
  const jobId = options.jobId ?? randomUUID();
  const { done } = await addJob(partition, name, { requests: [request] } as AnyBookingJobData, jobId);
  return { ref: { queueName: bookingQueueName(partition), jobId, index: 0 }, done };
}

interface Waiting {
  request: HoldRequest;
  resolve: (submitted: Submitted) => void;
  reject: (error: unknown) => void;
}

class HoldBatcher {
  private readonly partitions = new Map<number, { waiting: Waiting[]; inFlight: number; scheduled: boolean }>();

  submit(request: HoldRequest): Promise<Submitted> {
    const partition = partitionForKey(request.gameId, request.bookDate);
    return new Promise((resolve, reject) => {
      const state = this.state(partition);
      state.waiting.push({ request, resolve, reject });
      this.schedule(partition);
    });
  }

  private state(partition: number) {
    let state = this.partitions.get(partition);
    if (!state) {
      state = { waiting: [], inFlight: 0, scheduled: false };
      this.partitions.set(partition, state);
    }
    return state;
  }

  /** Flushes on the next turn of the event loop, so requests that arrived together leave together. */
  private schedule(partition: number): void {
    const state = this.state(partition);
    if (state.scheduled || state.inFlight >= MAX_IN_FLIGHT || state.waiting.length === 0) return;
    state.scheduled = true;
    setImmediate(() => {
      state.scheduled = false;
      void this.flush(partition);
    });
  }

  private async flush(partition: number): Promise<void> {
    const state = this.state(partition);
    if (state.inFlight >= MAX_IN_FLIGHT || state.waiting.length === 0) return;
    const batch = state.waiting.splice(0, MAX_BATCH);
    state.inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      state.inFlight--;
      this.schedule(partition);
    };
    const jobId = randomUUID();
    try {
      const { done } = await addJob(partition, 'hold', { requests: batch.map((w) => w.request) }, jobId);
      void done.then(release);
      setTimeout(release, IN_FLIGHT_TIMEOUT_MS).unref();
      batch.forEach((waiting, index) => waiting.resolve({ ref: { queueName: bookingQueueName(partition), jobId, index }, done }));
    } catch (error) {
      release();
      for (const waiting of batch) waiting.reject(error);
    }
    this.schedule(partition);
  }
}

const holdBatcher = new HoldBatcher();

export function submitHold(request: HoldRequest): Promise<Submitted> {
  return holdBatcher.submit(request);
}
