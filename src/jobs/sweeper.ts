import { config } from '../config';
import { QUEUE_NAMES, queue } from './queues';

// The sweeper queue: BullMQ job schedulers for the periodic work of the service (src/workers/
// sweeper.ts runs them): `sweep` turns expired holds into release jobs in their booking
// partitions every SWEEP_INTERVAL_MS; `relay-outbox` sends outbox events a crash or a Redis
// failure left behind; `prune-ledger` deletes request-ledger answers past their retention;
// `reconcile` asks Razorpay about what the service may have missed (src/workers/reconciler.ts);
// `vendor-clock` moves dashboard rows from upcoming to current to completed as the cafes' clocks
// go, and `vendor-audit` queues a sync of bookings changed lately whose rows drifted because
// their own sync failed for good (src/workers/vendor-sync.ts).

export type SweeperJobName = 'sweep' | 'relay-outbox' | 'prune-ledger' | 'reconcile' | 'vendor-clock' | 'vendor-audit';

const SCHEDULES: Array<{ id: string; name: SweeperJobName; every: number }> = [
  { id: 'sweep-expired-holds', name: 'sweep', every: config.sweepIntervalMs },
  { id: 'relay-outbox-leftovers', name: 'relay-outbox', every: 5000 },
  { id: 'prune-request-ledger', name: 'prune-ledger', every: 3600_000 },
  { id: 'reconcile-payments', name: 'reconcile', every: config.reconcileIntervalMs },
  { id: 'vendor-dashboard-clock', name: 'vendor-clock', every: 60_000 },
  { id: 'vendor-tables-audit', name: 'vendor-audit', every: 300_000 },
];

export function sweeperQueue() {
  return queue(QUEUE_NAMES.sweeper);
}

/** Idempotent: every worker process calls it at start; each scheduler exists once. */
export async function scheduleSweeper(): Promise<void> {
  for (const schedule of SCHEDULES) {
    await sweeperQueue().upsertJobScheduler(schedule.id, { every: schedule.every }, {
      name: schedule.name,
      data: {},
      opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    });
  }
}

/** The job id of a hold's expiry release: one per booking while it waits, however many sweeps find it. */
export function expiryJobId(bookingId: number): string {
  return `expire-${bookingId}`;
}
