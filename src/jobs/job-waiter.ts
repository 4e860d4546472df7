import { createHmac, timingSafeEqual } from 'crypto';
import { Job } from 'bullmq';
import { config } from '../config';
import { createWorkerRedis, RedisConnection } from '../redis';
import { queue } from './queues';
import { Outcome } from '../domain/booking-types';
import { Unavailable } from '../errors';
import { logger } from '../logger';

// Waiting for a job to end without polling Redis per request: the worker that ends a job
// announces it on one pub/sub channel (announceJobEnd: once BullMQ has recorded the end, or, for a
// booking job, once its answers are committed in the request ledger, which is what every later
// reader of them reads too), and each process that waits reads that channel on one subscriber connection and
// hands each end to the requests waiting for it. Pub/sub is at most once: an announcement missed
// (the subscriber was connecting, or reconnecting) is caught by an occasional state check.

export type JobEnd =
  | { state: 'completed'; returnvalue: unknown }
  | { state: 'failed'; failedReason: string };

type Listener = (end: JobEnd) => void;

const CHECK_AFTER_MS = [300, 1000, 2000];

/** The channel job ends are announced on; it carries REDIS_KEY_PREFIX, as pub/sub ignores the database number. */
export function jobEndsChannel(prefix = config.redisKeyPrefix): string {
  return `${prefix}:job-ends`;
}

interface Announcement {
  queue: string;
  jobId: string;
  end: JobEnd;
}

// Anything that can PUBLISH on the shared Redis reaches the channel, and a forged end would answer
// a waiting request (a 503 for a hold that committed invites a second hold): announcements are
// signed with a key derived from JWT_SECRET, which every process has and Redis never sees.
let signingKey: Buffer | null = null;
function signatureOf(body: string): Buffer {
  signingKey ??= createHmac('sha256', config.jwtSecret).update('hfg job-ends announcements').digest();
  return createHmac('sha256', signingKey).update(body).digest();
}

/** `signature.body`: the body, JSON, after its signature (base64url). */
function signed(body: string): string {
  return `${signatureOf(body).toString('base64url')}.${body}`;
}

/** The announcement in `message` if its signature is ours and its shape right, or null. */
function announcementOf(message: string): Announcement | null {
  const dot = message.indexOf('.');
  if (dot < 1) return null;
  const body = message.slice(dot + 1);
  const given = Buffer.from(message.slice(0, dot), 'base64url');
  const expected = signatureOf(body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let parsed: any;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || typeof parsed.queue !== 'string' || typeof parsed.jobId !== 'string') return null;
  const end = parsed.end;
  if (end?.state === 'completed' && 'returnvalue' in end) return { queue: parsed.queue, jobId: parsed.jobId, end: { state: 'completed', returnvalue: end.returnvalue } };
  if (end?.state === 'failed' && typeof end.failedReason === 'string') return { queue: parsed.queue, jobId: parsed.jobId, end: { state: 'failed', failedReason: end.failedReason } };
  return null;
}

/** Tells every waiting process how a job ended; never throws (the waiters' state checks cover a lost announcement). */
export function announceJobEnd(redis: RedisConnection, queueName: string, jobId: string, end: JobEnd): void {
  redis.publish(jobEndsChannel(), signed(JSON.stringify({ queue: queueName, jobId, end })))
    .catch((error) => logger.debug({ err: error, queue: queueName, jobId }, 'job end not announced; waiters will check its state'));
}

class JobWaiter {
  private subscriber: { connection: RedisConnection; ready: Promise<unknown> } | null = null;
  private readonly listeners = new Map<string, Set<Listener>>();

  private subscribe(): Promise<unknown> {
    if (!this.subscriber) {
      const connection = createWorkerRedis();
      connection.on('error', () => undefined); // reconnects (and resubscribes) by itself; waits fall back to state checks
      connection.on('message', (channel: string, message: string) => {
        const announced = announcementOf(message);
        if (announced) this.settle(announced.queue, announced.jobId, announced.end);
      });
      this.subscriber = { connection, ready: connection.subscribe(jobEndsChannel()) };
    }
    return this.subscriber.ready;
  }

  /** Subscribes ahead of the first request, so that its end is heard at once. */
  async warmUp(): Promise<void> {
    await this.subscribe();
  }

  private settle(queueName: string, jobId: string, end: JobEnd): void {
    const key = `${queueName}\n${jobId}`;
    const waiting = this.listeners.get(key);
    if (!waiting) return;
    this.listeners.delete(key);
    for (const listener of waiting) listener(end);
  }

  /** Resolves with how the job ended, or null if it has not ended within `timeoutMs`. */
  wait(queueName: string, jobId: string, timeoutMs: number): Promise<JobEnd | null> {
    this.subscribe().catch(() => undefined);
    const key = `${queueName}\n${jobId}`;
    return new Promise((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      const listener: Listener = (end) => finish(end);
      const finish = (end: JobEnd | null) => {
        timers.forEach(clearTimeout);
        this.listeners.get(key)?.delete(listener);
        if (this.listeners.get(key)?.size === 0) this.listeners.delete(key);
        resolve(end);
      };
      const set = this.listeners.get(key) ?? new Set<Listener>();
      set.add(listener);
      this.listeners.set(key, set);
      for (const after of CHECK_AFTER_MS.filter((ms) => ms < timeoutMs)) {
        timers.push(setTimeout(() => {
          void currentEnd(queueName, jobId).then((end) => end && finish(end), () => undefined);
        }, after));
      }
      timers.push(setTimeout(() => {
        void currentEnd(queueName, jobId).then((end) => finish(end), () => finish(null));
      }, timeoutMs));
    });
  }

  /** Like wait, for a job that may have ended before we started listening. */
  async join(queueName: string, jobId: string, timeoutMs: number): Promise<JobEnd | null> {
    const waiting = this.wait(queueName, jobId, timeoutMs);
    const end = await currentEnd(queueName, jobId);
    if (end) this.settle(queueName, jobId, end);
    return waiting;
  }

  close(): void {
    const open = this.subscriber;
    this.subscriber = null;
    open?.connection.disconnect(); // a subscriber has nothing to flush, and QUIT would wait for a Redis that is down
  }
}

/** How the job ended, or null while it has not (or does not exist). */
export async function currentEnd(queueName: string, jobId: string): Promise<JobEnd | null> {
  // State first: a job read before its state could be an active job's copy, without its result.
  const state = await queue(queueName).getJobState(jobId);
  if (state !== 'completed' && state !== 'failed') return null;
  const job = await Job.fromId(queue(queueName), jobId);
  if (!job) return null;
  return state === 'completed' ? { state, returnvalue: job.returnvalue } : { state, failedReason: job.failedReason };
}

export const jobWaiter = new JobWaiter();

/** A finished job's answer for one of its requests, as the synchronous HTTP answer. */
export function outcomeOf(end: JobEnd, index: number): Outcome {
  if (end.state === 'failed') {
    return { status: 503, body: new Unavailable('The request could not be processed; try again').toBody() };
  }
  const outcome = (end.returnvalue as Outcome[] | null)?.[index];
  if (!outcome) return { status: 503, body: new Unavailable('The request produced no answer').toBody() };
  return outcome;
}
