import { config } from '../config';
import { QUEUE_NAMES, queue } from './queues';

// The sweeper: a BullMQ job scheduler that wakes every SWEEP_INTERVAL_MS and turns expired holds
// into release jobs in their booking partitions (src/workers/sweeper.ts).

export const SWEEP_SCHEDULER_ID = 'sweep-expired-holds';

export function sweeperQueue() {
  return queue(QUEUE_NAMES.sweeper);
}

/** Idempotent: every worker process calls it at start; the scheduler exists once. */
export async function scheduleSweeper(): Promise<void> {
  await sweeperQueue().upsertJobScheduler(SWEEP_SCHEDULER_ID, { every: config.sweepIntervalMs }, {
    name: 'sweep',
    data: {},
    opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  });
}

/** The job id of a hold's expiry release: one per booking, however many sweeps find it. */
export function expiryJobId(bookingId: number): string {
  return `expire-${bookingId}`;
}
