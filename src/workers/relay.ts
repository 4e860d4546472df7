import { deleteSent, Outbound, OutboxJob, relayLeftovers } from '../db/outbox';
import { publishEvents } from '../realtime/publish';
import { queue, RELAYED_JOB_OPTIONS } from '../jobs/queues';
import { logger } from '../logger';

// The outbox relay (SPEC §2): right after a transaction commits, its events go to the socket.io
// emitter and its jobs to their queues; once a realtime process received an event, or the queue
// holds a job, its outbox row is deleted. A failure (Redis gone, an error reply, nobody
// listening) is logged, never thrown: the rows stay, and the periodic relay sends them.

/** Rows younger than this belong to the relay after their commit; older ones to the periodic relay. */
export const LEFTOVER_AGE_MS = 5000;

/** Sent rows are deleted together, a few milliseconds after the first of them was sent: one statement for many jobs. */
const DELETE_AFTER_MS = 10;

const inFlight = new Set<Promise<void>>();
let sent: string[] = [];
let deleting: Promise<void> | null = null;

function deleteSentSoon(ids: string[]): Promise<void> {
  if (ids.length === 0) return Promise.resolve();
  sent.push(...ids);
  deleting ??= new Promise<void>((resolve) => setTimeout(resolve, DELETE_AFTER_MS)).then(async () => {
    const batch = sent;
    sent = [];
    deleting = null;
    try {
      await deleteSent(batch);
    } catch (error) {
      logger.warn({ err: error, events: batch.length }, 'could not delete relayed outbox rows; the periodic relay will send them again');
    }
  });
  return deleting;
}

/** Adds the jobs to their queues (a job id already there is not added again); returns the ids added. */
async function enqueue(jobs: OutboxJob[]): Promise<string[]> {
  const byQueue = new Map<string, OutboxJob[]>();
  for (const job of jobs) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
  const added = await Promise.all([...byQueue].map(async ([queueName, batch]) => {
    try {
      await queue(queueName).addBulk(batch.map((job) => ({ name: job.name, data: job.data, opts: { ...RELAYED_JOB_OPTIONS, jobId: job.jobId ?? job.id } })));
      return batch.map((job) => job.id);
    } catch (error) {
      logger.warn({ err: error, queue: queueName, jobs: batch.length }, 'outbox relay could not add jobs; the periodic relay will add them');
      return [];
    }
  }));
  return added.flat();
}

/** Sends what a transaction left; returns the outbox ids that went out. */
async function send({ events, eventRows, jobs }: Outbound): Promise<string[]> {
  const published = events.length === 0 ? eventRows : await publishEvents(events).then(
    () => eventRows,
    (error) => {
      logger.warn({ err: error, events: events.length }, 'outbox relay failed; the periodic relay will send these events');
      return [];
    },
  );
  return [...published, ...(jobs.length ? await enqueue(jobs) : [])];
}

/** Called after the commit that made `outbound`; does not wait for Redis. */
export function relayAfterCommit(outbound: Outbound): void {
  if (outbound.events.length === 0 && outbound.jobs.length === 0) return;
  const relaying = send(outbound).then(deleteSentSoon).finally(() => inFlight.delete(relaying));
  inFlight.add(relaying);
}

/** Socket events no realtime process took for this long are dropped: their clients have reconnected and read the state since. */
export const SOCKET_EVENT_MAX_AGE_MS = 3600_000;

/** The periodic relay: whatever the relay after commit did not send (a crash, a failed publish, no realtime process up). */
export async function relayOutboxLeftovers(): Promise<number> {
  let result: { sent: number; dropped: number };
  try {
    result = await relayLeftovers(send, LEFTOVER_AGE_MS, SOCKET_EVENT_MAX_AGE_MS);
  } catch (error) {
    logger.warn({ err: error }, 'periodic outbox relay failed; it tries again at its next run');
    return 0;
  }
  const { sent, dropped } = result;
  if (sent) logger.info({ rows: sent }, 'relayed outbox leftovers');
  if (dropped) logger.warn({ events: dropped, maxAgeMs: SOCKET_EVENT_MAX_AGE_MS }, 'dropped socket events no realtime process took');
  return sent;
}

/** Waits (at most `timeoutMs`) for relays in flight, so a stopping worker sends what it committed. */
export async function drainRelays(timeoutMs = 3000): Promise<void> {
  await Promise.race([Promise.all([...inFlight]), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
}
