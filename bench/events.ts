import { existsSync, readFileSync } from 'fs';
import { performance } from 'perf_hooks';
import { Job } from 'bullmq';
import { io as connectClient, Socket } from 'socket.io-client';
import { queue } from '../src/jobs/queues';
import { MAX_ROOMS_PER_CONNECTION } from '../src/realtime/rooms';
import { percentile } from './load';

// Commit→client event latency: from a booking job's commit in a worker (the endedAt of the line the
// worker appends to BOOKING_TRACE_FILE, taken right after the transaction commits and before its
// events are published) to a real socket.io client receiving the hold's `slot_pending`.
//
// Nothing here knows the engine's inner workings beyond what stays put across rewrites: the trace
// line (queue, job, endedAt), the BullMQ job it names, whose return value is the array of outcomes
// `{status, body}` (a 201 hold names its `bookings: [{slot_id, booking_id}]`), and the
// `booking_id` of each `slot_pending`. Public job ids are not used.

/** The clock the worker stamps its trace with (epoch milliseconds, sub-millisecond resolution). */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface SlotRoomKey {
  vendor_id: number;
  game_id: number;
  date: string;
}

export interface SlotPendingListener {
  /** booking_id → when its first slot_pending arrived (epochNow()). */
  receivedAt: Map<number, number>;
  /** slot_pending events for a booking already seen (an at-least-once relay may send twice). */
  duplicates(): number;
  close(): void;
}

/** One socket.io client, subscribed to the slot rooms of `keys`; resolves once every subscription was acknowledged. */
async function subscribedClient(port: number, keys: SlotRoomKey[], onPending: (payload: { booking_id?: unknown } | undefined) => void): Promise<Socket> {
  const socket: Socket = connectClient(`http://127.0.0.1:${port}`, {
    path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true,
  });
  socket.on('slot_pending', onPending);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => reject(new Error(`socket.io client could not connect: ${error.message}`)));
    });
    await Promise.all(keys.map(async (key) => {
      const ack = await socket.timeout(10_000).emitWithAck('subscribe_slots', key) as { ok: boolean; message?: string } | undefined;
      if (!ack?.ok) throw new Error(`subscribe_slots ${JSON.stringify(key)} refused: ${ack?.message ?? 'no answer'}`);
    }));
    return socket;
  } catch (error) {
    socket.close();
    throw error;
  }
}

/** socket.io clients subscribed to the slot room of every key, one per MAX_ROOMS_PER_CONNECTION keys (SPEC §9). */
export async function listenForSlotPending(port: number, keys: SlotRoomKey[]): Promise<SlotPendingListener> {
  const receivedAt = new Map<number, number>();
  let duplicates = 0;
  // Stamped first thing in the handler: what is measured ends where a client's code sees the event.
  const onPending = (payload: { booking_id?: unknown } | undefined): void => {
    const at = epochNow();
    const bookingId = Number(payload?.booking_id);
    if (!Number.isInteger(bookingId)) return;
    if (receivedAt.has(bookingId)) duplicates++;
    else receivedAt.set(bookingId, at);
  };
  const groups: SlotRoomKey[][] = [];
  for (let i = 0; i < keys.length; i += MAX_ROOMS_PER_CONNECTION) groups.push(keys.slice(i, i + MAX_ROOMS_PER_CONNECTION));
  const settled = await Promise.allSettled(groups.map((group) => subscribedClient(port, group, onPending)));
  const sockets = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const close = (): void => sockets.forEach((socket) => socket.close());
  if (failed) {
    close();
    throw failed.reason;
  }
  return { receivedAt, duplicates: () => duplicates, close };
}

export interface TraceLine {
  queue: string;
  job: string;
  endedAt: number;
}

/** The booking trace a worker appended, one JSON object a line (no file: no job ran). */
export function readTrace(file: string): TraceLine[] {
  if (!existsSync(file)) return [];
  const lines: TraceLine[] = [];
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    if (!text.trim()) continue;
    const line = JSON.parse(text) as Partial<TraceLine>;
    if (typeof line.queue === 'string' && line.job !== undefined && line.job !== null && typeof line.endedAt === 'number') {
      lines.push({ queue: line.queue, job: String(line.job), endedAt: line.endedAt });
    }
  }
  return lines;
}

export interface CommitTimes {
  /** booking_id → endedAt of the job whose 201 outcome named it (the earliest, should two jobs name it). */
  committedAt: Map<number, number>;
  /** Distinct jobs in the trace, and those of them BullMQ no longer had. */
  jobs: number;
  jobsNotFound: number;
}

/** Maps every booking a traced job answered 201 for to the job's commit time. */
export async function commitTimes(trace: TraceLine[]): Promise<CommitTimes> {
  // A job traced twice (a retried attempt) committed first at the earliest line.
  const ended = new Map<string, TraceLine>();
  for (const line of trace) {
    const id = `${line.queue}\n${line.job}`;
    const seen = ended.get(id);
    if (!seen || line.endedAt < seen.endedAt) ended.set(id, line);
  }
  const committedAt = new Map<number, number>();
  let jobsNotFound = 0;
  const lines = [...ended.values()];
  const CHUNK = 200;
  for (let i = 0; i < lines.length; i += CHUNK) {
    const jobs = await Promise.all(lines.slice(i, i + CHUNK).map(async (line) => ({ line, job: await Job.fromId(queue(line.queue), line.job) })));
    for (const { line, job } of jobs) {
      if (!job) {
        jobsNotFound++;
        continue;
      }
      const outcomes: unknown = job.returnvalue;
      if (!Array.isArray(outcomes)) continue;
      for (const outcome of outcomes as Array<{ status?: unknown; body?: { bookings?: unknown } }>) {
        if (outcome?.status !== 201 || !Array.isArray(outcome.body?.bookings)) continue;
        for (const booking of outcome.body!.bookings as Array<{ booking_id?: unknown }>) {
          const bookingId = Number(booking?.booking_id);
          if (!Number.isInteger(bookingId)) continue;
          const known = committedAt.get(bookingId);
          if (known === undefined || line.endedAt < known) committedAt.set(bookingId, line.endedAt);
        }
      }
    }
  }
  return { committedAt, jobs: lines.length, jobsNotFound };
}

export interface EventLatency {
  /** Bookings committed inside the window whose slot_pending arrived: the latencies measured. */
  n: number;
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
  /** Bookings committed inside the window whose slot_pending never arrived. */
  missing: number;
}

/** Latency = receivedAt − committedAt, over the bookings committed in [from, to). */
export function eventLatency(committedAt: Map<number, number>, receivedAt: Map<number, number>, from: number, to: number): EventLatency {
  const latencies: number[] = [];
  let missing = 0;
  for (const [bookingId, committed] of committedAt) {
    if (committed < from || committed >= to) continue;
    const received = receivedAt.get(bookingId);
    if (received === undefined) missing++;
    else latencies.push(received - committed);
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    n: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    min: sorted.length ? sorted[0] : NaN,
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    missing,
  };
}
