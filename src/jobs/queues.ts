import { JobsOptions, Queue, QueueOptions } from 'bullmq';
import { config } from '../config';
import { clientRedis } from './connection';

// Queue names and their Redis namespacing. Every queue keeps its keys under its own hash tag
// (`{hfg:booking-3}`), so on a Redis Cluster the booking partitions spread over the nodes.

export const QUEUE_NAMES = {
  paymentVerification: 'payment-verification',
  vendorSync: 'vendor-sync',
  sweeper: 'sweeper',
} as const;

export function bookingQueueName(partition: number): string {
  return `booking-${partition}`;
}

export function queuePrefix(queueName: string): string {
  return `{${config.redisKeyPrefix}:${queueName}}`;
}

export function bookingQueueNames(): string[] {
  return Array.from({ length: config.bookingPartitions }, (_, i) => bookingQueueName(i));
}

export function allQueueNames(): string[] {
  return [
    ...bookingQueueNames(),
    QUEUE_NAMES.paymentVerification,
    QUEUE_NAMES.vendorSync,
    QUEUE_NAMES.sweeper,
  ];
}

/**
 * Jobs a transaction implies (vendor-sync, refunds), added by the outbox relay: idempotent work,
 * retried with backoff for about half an hour before they count as failed; a failed one is kept
 * for a week so an admin can retry it (its source of truth stays in the database).
 */
export const RELAYED_JOB_OPTIONS: JobsOptions = {
  attempts: 12,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

const producers = new Map<string, Queue>();

/** The API-side producer for a queue, sharing the process's fail-fast Redis connection. */
export function queue(queueName: string, options: Partial<QueueOptions> = {}): Queue {
  let existing = producers.get(queueName);
  if (!existing) {
    existing = new Queue(queueName, { connection: clientRedis(), prefix: queuePrefix(queueName), ...options });
    producers.set(queueName, existing);
  }
  return existing;
}

export async function closeQueues(): Promise<void> {
  const open = [...producers.values()];
  producers.clear();
  await Promise.all(open.map((q) => q.close()));
}
