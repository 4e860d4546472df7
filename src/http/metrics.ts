import { Middleware } from 'koa';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { db } from '../db/knex';
import { BOOKING_STATUSES } from '../db/models';
import { allQueueNames, queue } from '../jobs/queues';
import { logger } from '../logger';
import { withinTime } from '../time-limit';

// The web process's Prometheus figures (SPEC §5.5): its own HTTP latency and process figures, and
// the figures every process shares, read at scrape time from where they live — queue depth and
// job latency from Redis (one scrape covers every worker), bookings, refunds and the outbox from
// PostgreSQL. Nothing shared is counted in memory, so any web process answers the same.

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

const httpDuration = new Histogram({
  name: 'hfg_http_request_duration_seconds',
  help: 'HTTP request latency by method, route template (never the raw path) and status class',
  labelNames: ['method', 'route', 'status_class'] as const,
  // Holds wait up to SYNC_WAIT_MS (5 s) for their job.
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [metricsRegistry],
});

const queueJobs = new Gauge({
  name: 'hfg_queue_jobs',
  help: 'Jobs in each queue by state, read from Redis',
  labelNames: ['queue', 'state'] as const,
  registers: [metricsRegistry],
});
const queueWait = new Gauge({
  name: 'hfg_queue_job_wait_seconds',
  help: "Time from enqueue (after any delay) to a worker starting it, over the queue's latest completed jobs",
  labelNames: ['queue', 'quantile'] as const,
  registers: [metricsRegistry],
});
const queueRun = new Gauge({
  name: 'hfg_queue_job_run_seconds',
  help: "Time a worker spent on a job, over the queue's latest completed jobs",
  labelNames: ['queue', 'quantile'] as const,
  registers: [metricsRegistry],
});
const bookings = new Gauge({
  name: 'hfg_bookings',
  help: 'Bookings by status: pending_verified = live holds, confirmed, cancelled, verification_failed = expired holds, refunded',
  labelNames: ['status'] as const,
  registers: [metricsRegistry],
});
const refunds = new Gauge({
  name: 'hfg_refunds',
  help: 'Refunds by status (pending, processed)',
  labelNames: ['status'] as const,
  registers: [metricsRegistry],
});
const outboxPending = new Gauge({
  name: 'hfg_outbox_pending',
  help: 'Outbox rows not relayed yet (socket events, jobs)',
  registers: [metricsRegistry],
});
const outboxOldestAge = new Gauge({
  name: 'hfg_outbox_oldest_age_seconds',
  help: 'Age of the oldest outbox row (0 when empty): how far relaying lags behind commits',
  registers: [metricsRegistry],
});
const sourceUp = new Gauge({
  name: 'hfg_metrics_source_up',
  help: 'Whether this scrape could read the shared figures from redis and postgres (1) or not (0)',
  labelNames: ['source'] as const,
  registers: [metricsRegistry],
});

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;
/** Completed jobs per queue the latency figures are computed over: one small read per queue. */
const LATENCY_SAMPLE = 20;
const QUANTILES = [0.5, 0.99] as const;
/** A scrape answers within this even when Redis or PostgreSQL does not: their figures are left out. */
const SOURCE_WAIT_MS = 2000;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function readQueue(queueName: string): Promise<void> {
  const producer = queue(queueName);
  const [counts, recent] = await Promise.all([
    producer.getJobCounts(...QUEUE_STATES),
    producer.getJobs(['completed'], 0, LATENCY_SAMPLE - 1, false),
  ]);
  for (const state of QUEUE_STATES) queueJobs.set({ queue: queueName, state }, counts[state] ?? 0);
  const waits: number[] = [];
  const runs: number[] = [];
  for (const job of recent) {
    if (!job?.processedOn || !job.finishedOn) continue;
    waits.push(Math.max(0, job.processedOn - job.timestamp - (job.delay ?? 0)) / 1000);
    runs.push(Math.max(0, job.finishedOn - job.processedOn) / 1000);
  }
  waits.sort((a, b) => a - b);
  runs.sort((a, b) => a - b);
  for (const q of QUANTILES) {
    if (waits.length) queueWait.set({ queue: queueName, quantile: String(q) }, quantile(waits, q));
    if (runs.length) queueRun.set({ queue: queueName, quantile: String(q) }, quantile(runs, q));
  }
}

async function readQueues(): Promise<void> {
  queueJobs.reset();
  queueWait.reset();
  queueRun.reset();
  await Promise.all(allQueueNames().map(readQueue));
}

async function readDatabase(): Promise<void> {
  const { rows } = await db.raw(`
    SELECT 'booking' AS kind, status, count(*)::int AS n, NULL::float8 AS age FROM bookings GROUP BY status
    UNION ALL
    SELECT 'refund', status, count(*)::int, NULL FROM refunds GROUP BY status
    UNION ALL
    SELECT 'outbox', NULL, count(*)::int, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 FROM outbox`);
  bookings.reset();
  refunds.reset();
  for (const status of BOOKING_STATUSES) bookings.set({ status }, 0);
  for (const status of ['pending', 'processed']) refunds.set({ status }, 0);
  for (const row of rows as Array<{ kind: string; status: string | null; n: number; age: number | null }>) {
    if (row.kind === 'booking') bookings.set({ status: row.status! }, row.n);
    else if (row.kind === 'refund') refunds.set({ status: row.status! }, row.n);
    else {
      outboxPending.set(row.n);
      outboxOldestAge.set(row.age ?? 0);
    }
  }
}

async function refresh(source: 'redis' | 'postgres', read: () => Promise<void>): Promise<void> {
  try {
    await withinTime(read(), SOURCE_WAIT_MS, source);
    sourceUp.set({ source }, 1);
  } catch (error) {
    sourceUp.set({ source }, 0);
    logger.warn({ err: error, source }, 'metrics: shared figures unavailable');
  }
}

/** The Prometheus text of this process, the shared figures read afresh. */
export async function renderMetrics(): Promise<string> {
  await Promise.all([refresh('redis', readQueues), refresh('postgres', readDatabase)]);
  return metricsRegistry.metrics();
}

export const metricsContentType = metricsRegistry.contentType;

/**
 * Times every request; the route is the matched router template (`/bookings/:booking_id`), so a
 * scanner walking random paths adds one `unmatched` series, not one per path.
 */
export const httpMetrics: Middleware = async (ctx, next) => {
  const stopTimer = httpDuration.startTimer();
  try {
    await next();
  } finally {
    const matched = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
    stopTimer({ method: HTTP_METHODS.has(ctx.method) ? ctx.method : 'other', route: matched === undefined ? 'unmatched' : String(matched), status_class: `${Math.floor(ctx.status / 100)}xx` });
  }
};
