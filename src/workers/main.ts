import { Job, Worker } from 'bullmq';
import { hostname } from 'os';
import { config } from '../config';
import { logger } from '../logger';
import { db } from '../db/knex';
import { pruneLedger } from '../db/request-ledger';
import { createWorkerRedis, RedisConnection, onEveryReady } from '../redis';
import { bookingQueueName, queuePrefix, QUEUE_NAMES } from '../jobs/queues';
import { bookingQueue } from '../jobs/booking';
import { scheduleSweeper, SweeperJobName } from '../jobs/sweeper';
import { closeQueues } from '../jobs/queues';
import { clientRedis, closeClientRedis } from '../jobs/connection';
import { announceJobEnd, jobWaiter } from '../jobs/job-waiter';
import { closePublisher } from '../realtime/publish';
import { processBookingJob } from './booking';
import { sweepExpiredHolds } from './sweeper';
import { drainRelays, relayOutboxLeftovers } from './relay';
import { processPaymentJob } from './payment-verification';
import { processVendorSyncJob, resyncByClock, resyncDrifted } from './vendor-sync';
import { reconcileAges, reconcilePayments } from './reconciler';
import { observeWorker, startWorkerMetricsServer } from './metrics';

// The worker process: one BullMQ worker per booking partition (each partition runs one job at a
// time across all worker processes), payment-verification and vendor-sync workers, the sweeper
// queue's periodic work, and its job schedulers.

/** Payment jobs mostly wait on Razorpay: several at once per process. */
const PAYMENT_CONCURRENCY = 8;
const VENDOR_SYNC_CONCURRENCY = 2;

/** How often the partitions' global concurrency of 1 is asserted again, besides every reconnect. */
const REASSERT_SERIAL_MS = 10_000;
/**
 * How long a stopping worker waits for its jobs and connections. Closing waits on Redis (BullMQ
 * waits for a connection that is reconnecting to end, which it never does while Redis is down);
 * a job left unfinished is taken over by another worker once its lock lapses.
 */
const SHUTDOWN_GRACE_MS = 15_000;
/**
 * Once its own jobs are done, how long a stopping worker lets Redis record their ends and close.
 * A job whose end went unrecorded runs again elsewhere once its lock lapses, and its ledger row
 * answers as before: nothing is applied twice.
 */
const REDIS_CLOSE_WAIT_MS = 5_000;

/**
 * The processor calls running in this process. Worker.close() waits for them and then for Redis
 * to record each job's end; with Redis down or frozen that never happens (these connections
 * retry forever), so shutdown waits for the work itself, which ends in PostgreSQL.
 */
const runningJobs = new Set<Promise<unknown>>();
function tracked(processor: (job: Job<any, any>) => Promise<unknown>): (job: Job<any, any>) => Promise<unknown> {
  return (job) => {
    const run = processor(job);
    runningJobs.add(run);
    run.then(() => runningJobs.delete(run), () => runningJobs.delete(run));
    return run;
  };
}

/** Whether `work` settled within `ms`. */
function settlesWithin(ms: number, work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.then(() => true, () => true),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); }),
  ]).finally(() => clearTimeout(timer));
}

const connections: RedisConnection[] = [];
function connection(): RedisConnection {
  const redis = createWorkerRedis();
  // A worker's own connection coming back may be the first to see a Redis that lost its data.
  onEveryReady(redis, () => void reassertAfterReconnect());
  connections.push(redis);
  return redis;
}

/**
 * A worker of `queueName`. Its jobs' ends are announced to the requests waiting for them
 * (src/jobs/job-waiter.ts) once BullMQ has recorded them, unless the processor announces its own
 * answer as soon as it is committed (`announcesItself`: the booking partitions).
 */
function startWorker(queueName: string, processor: (job: Job<any, any>) => Promise<unknown>, concurrency = 1, announcesItself = false): Worker {
  const worker = new Worker(queueName, tracked(processor), {
    name: `${hostname()}:${process.pid}`, // shown as the job's processedBy (Bull Board, crash test)
    connection: connection(),
    prefix: queuePrefix(queueName),
    concurrency,
    lockDuration: config.jobLockMs,
    stalledInterval: Math.max(250, Math.floor(config.jobLockMs / 2)),
    maxStalledCount: 3,
  });
  // Completed, or failed with no attempt left (finishedOn set).
  if (!announcesItself) worker.on('completed', (job, result) => announceJobEnd(clientRedis(), queueName, job.id!, { state: 'completed', returnvalue: result }));
  worker.on('failed', (job, error) => {
    logger.warn({ jobId: job?.id, queue: queueName, attempts: job?.attemptsMade, err: error }, 'job attempt failed');
    if (job?.id && job.finishedOn) announceJobEnd(clientRedis(), queueName, job.id, { state: 'failed', failedReason: job.failedReason ?? error.message });
  });
  worker.on('error', (error) => logger.error({ queue: queueName, err: error }, 'worker error'));
  observeWorker(worker, queueName);
  return worker;
}

const sweeperJobs: Record<SweeperJobName, () => Promise<unknown>> = {
  sweep: async () => ({ queued: await sweepExpiredHolds() }),
  'relay-outbox': async () => ({ relayed: await relayOutboxLeftovers() }),
  'prune-ledger': async () => ({ pruned: await pruneLedger() }),
  reconcile: () => reconcilePayments(reconcileAges(config.holdTtlSeconds)),
  'vendor-clock': async () => ({ queued: await resyncByClock() }),
  'vendor-audit': async () => ({ queued: await resyncDrifted() }),
};

/**
 * Global concurrency 1 is what makes a partition serial across processes. It lives in Redis, so a
 * Redis that lost its data (restarted without persistence, failed over) would run a partition's
 * jobs in parallel: it is set before this process takes a job, again on every reconnect, and now
 * and then.
 */
async function assertSerialPartitions(): Promise<void> {
  await Promise.all(Array.from({ length: config.bookingPartitions }, (_, p) => bookingQueue(p).setGlobalConcurrency(1)));
}

function reassertSerialPartitions(why: string): Promise<void> {
  return assertSerialPartitions().catch((error) => logger.warn({ err: error, why }, 'could not assert partition concurrency'));
}

/**
 * After any reconnect: the partitions' concurrency, and the sweeper's job schedulers (a Redis, or a
 * cluster node, that came back without its data has lost them: no expiry, relay or reconciliation
 * would run until a worker restarted). A node that just came back may refuse for a moment (a
 * cluster still joining: CLUSTERDOWN), so it is tried again every REASSERT_RETRY_MS until it took,
 * for as long as the periodic re-assertion's interval. Every connection of the process reports its
 * reconnect; one re-assertion at a time serves them all.
 */
const REASSERT_RETRY_MS = 100;
let reasserting: Promise<void> | null = null;
function reassertAfterReconnect(): Promise<void> {
  reasserting ??= (async () => {
    for (const deadline = Date.now() + REASSERT_SERIAL_MS; ;) {
      try {
        await Promise.all([assertSerialPartitions(), scheduleSweeper()]);
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          logger.warn({ err: error }, 'could not assert partition concurrency and the sweeper after a reconnect');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, REASSERT_RETRY_MS));
      }
    }
  })().finally(() => { reasserting = null; });
  return reasserting;
}

function keepPartitionsSerial(): NodeJS.Timeout {
  onEveryReady(clientRedis(), () => void reassertAfterReconnect());
  return setInterval(() => void reassertSerialPartitions('periodic'), REASSERT_SERIAL_MS);
}

async function main(): Promise<void> {
  await assertSerialPartitions();
  // The payment worker waits for the confirm jobs it hands to the booking partitions: subscribed
  // before its first job, so the first confirm's end is heard, not found by a later state check.
  await jobWaiter.warmUp();
  const serialTimer = keepPartitionsSerial();
  const workers = [
    ...Array.from({ length: config.bookingPartitions }, (_, p) => startWorker(bookingQueueName(p), processBookingJob, 1, true)),
    startWorker(QUEUE_NAMES.paymentVerification, processPaymentJob, PAYMENT_CONCURRENCY),
    startWorker(QUEUE_NAMES.vendorSync, processVendorSyncJob, VENDOR_SYNC_CONCURRENCY),
    startWorker(QUEUE_NAMES.sweeper, (job) => {
      const run = sweeperJobs[job.name as SweeperJobName];
      return run ? run() : Promise.reject(new Error(`unknown sweeper job ${job.name}`));
    }),
  ];
  await scheduleSweeper();
  const metricsServer = startWorkerMetricsServer();
  logger.info({ partitions: config.bookingPartitions, pid: process.pid }, 'worker started');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'worker shutting down: finishing active jobs');
    setTimeout(() => {
      logger.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'worker did not stop in time (Redis or PostgreSQL unreachable?); exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    clearInterval(serialTimer);
    metricsServer?.close();
    // close() stops taking jobs at once; a job fetched just before still starts, and is waited for.
    const closed = Promise.all(workers.map((w) => w.close())).then(async () => {
      await drainRelays();
      jobWaiter.close();
      await closeQueues();
      await closePublisher();
      await closeClientRedis();
    });
    for (;;) {
      while (runningJobs.size) await Promise.allSettled([...runningJobs]);
      if (await settlesWithin(REDIS_CLOSE_WAIT_MS, closed)) break;
      if (runningJobs.size) continue;
      logger.warn({ waitMs: REDIS_CLOSE_WAIT_MS }, 'worker jobs done, Redis did not answer while closing; dropping its connections');
      break;
    }
    connections.forEach((c) => c.disconnect());
    await db.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  logger.fatal({ err: error }, 'worker failed to start');
  process.exit(1);
});
