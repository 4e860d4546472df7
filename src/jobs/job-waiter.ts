import { Job, QueueEvents } from 'bullmq';
import { createWorkerRedis, RedisConnection } from '../redis';
import { queue, queuePrefix } from './queues';
import { Outcome } from '../domain/booking-types';
import { Unavailable } from '../errors';

// Waiting for a job to end without polling Redis per request: one QueueEvents stream reader per
// queue, fanning completions out to the requests that wait for them. A completion that slipped
// past the reader (it was starting, or reconnecting) is caught by an occasional state check.

export type JobEnd =
  | { state: 'completed'; returnvalue: unknown }
  | { state: 'failed'; failedReason: string };

type Listener = (end: JobEnd) => void;

const CHECK_AFTER_MS = [300, 1000, 2000];

class JobWaiter {
  private readonly readers = new Map<string, { events: QueueEvents; connection: RedisConnection }>();
  private readonly listeners = new Map<string, Set<Listener>>();

  private reader(queueName: string): QueueEvents {
    let reader = this.readers.get(queueName);
    if (!reader) {
      const connection = createWorkerRedis();
      const events = new QueueEvents(queueName, { connection, prefix: queuePrefix(queueName) });
      events.on('completed', ({ jobId, returnvalue }) => this.settle(queueName, jobId, { state: 'completed', returnvalue }));
      events.on('failed', ({ jobId, failedReason }) => this.settle(queueName, jobId, { state: 'failed', failedReason }));
      events.on('error', () => undefined); // reconnects by itself; waits fall back to state checks
      reader = { events, connection };
      this.readers.set(queueName, reader);
    }
    return reader.events;
  }

  /** Starts the readers ahead of the first request, so that its completion is heard at once. */
  async warmUp(queueNames: string[]): Promise<void> {
    await Promise.all(queueNames.map((name) => this.reader(name).waitUntilReady()));
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
    this.reader(queueName);
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

  async close(): Promise<void> {
    const readers = [...this.readers.values()];
    this.readers.clear();
    await Promise.all(readers.map(async ({ events, connection }) => {
      await events.close().catch(() => undefined);
      connection.disconnect();
    }));
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
