import { Job, Worker } from 'bullmq';
import Redis from 'ioredis';
import { hostname } from 'os';
import { config } from '../config';
import { logger } from '../logger';
import { db } from '../db/knex';
import { createWorkerRedis } from '../redis';
import { bookingQueueName, queuePrefix, QUEUE_NAMES } from '../jobs/queues';
import { bookingQueue } from '../jobs/booking';
import { scheduleSweeper } from '../jobs/sweeper';
import { closeQueues } from '../jobs/queues';
import { closeClientRedis } from '../jobs/connection';
import { closePublisher } from '../realtime/publish';
import { processBookingJob } from './booking';
import { sweepExpiredHolds } from './sweeper';

// The worker process: one BullMQ worker per booking partition (each partition runs one job at a
// time across all worker processes), the sweeper, and the sweeper's job scheduler.

const connections: Redis[] = [];
function connection(): Redis {
  const redis = createWorkerRedis();
  connections.push(redis);
  return redis;
}

function startWorker(queueName: string, processor: (job: Job<any, any>) => Promise<unknown>): Worker {
  const worker = new Worker(queueName, processor, {
    name: `${hostname()}:${process.pid}`, // shown as the job's processedBy (Bull Board, crash test)
    connection: connection(),
    prefix: queuePrefix(queueName),
    concurrency: 1,
    lockDuration: config.jobLockMs,
    stalledInterval: Math.max(250, Math.floor(config.jobLockMs / 2)),
    maxStalledCount: 3,
  });
  worker.on('failed', (job, error) => logger.warn({ jobId: job?.id, queue: queueName, attempts: job?.attemptsMade, err: error }, 'job attempt failed'));
  worker.on('error', (error) => logger.error({ queue: queueName, err: error }, 'worker error'));
  return worker;
}

async function main(): Promise<void> {
  const partitions = Array.from({ length: config.bookingPartitions }, (_, i) => i);
  // Global concurrency 1 is what makes a partition serial across processes: set it before any
  // worker of this process can take a job.
  await Promise.all(partitions.map((p) => bookingQueue(p).setGlobalConcurrency(1)));
  const workers = [
    ...partitions.map((p) => startWorker(bookingQueueName(p), processBookingJob)),
    startWorker(QUEUE_NAMES.sweeper, async () => ({ queued: await sweepExpiredHolds() })),
  ];
  await scheduleSweeper();
  logger.info({ partitions: config.bookingPartitions, pid: process.pid }, 'worker started');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'worker shutting down: finishing active jobs');
    await Promise.all(workers.map((w) => w.close()));
    await closeQueues();
    await closePublisher();
    await closeClientRedis();
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
