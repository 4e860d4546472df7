import { db } from '../db/knex';
import { bookingJobOptions, bookingQueue, partitionForKey } from '../jobs/booking';
import { expiryJobId } from '../jobs/sweeper';
import { logger } from '../logger';

const SWEEP_LIMIT = 5000;

/**
 * Finds holds whose time ran out and queues their release in the partition of their slot key.
 * The job id is per booking, so overlapping sweeps queue each release once; the release itself
 * re-checks the expiry under lock, so a hold confirmed meanwhile is left alone. The database's
 * clock decides, as it does in the release.
 */
export async function sweepExpiredHolds(): Promise<number> {
  const expired: Array<{ id: number; game_id: number; book_date: string }> = await db('bookings')
    .where('status', 'pending_verified')
    .where('hold_expires_at', '<=', db.fn.now())
    .orderBy('hold_expires_at')
    .limit(SWEEP_LIMIT)
    .select('id', 'game_id', 'book_date');
  const byPartition = new Map<number, typeof expired>();
  for (const booking of expired) {
    const partition = partitionForKey(booking.game_id, booking.book_date);
    byPartition.set(partition, [...(byPartition.get(partition) ?? []), booking]);
  }
  await Promise.all([...byPartition].map(([partition, bookings]) => bookingQueue(partition).addBulk(bookings.map((booking) => ({
    name: 'release',
    data: { requests: [{ requestId: expiryJobId(booking.id), actor: null, bookingIds: [booking.id] }] },
    // Removed as soon as it ends, failed or not: the job id only deduplicates releases still
    // waiting, and a release that failed for good is queued again by the next sweep.
    opts: { ...bookingJobOptions, jobId: expiryJobId(booking.id), removeOnComplete: true, removeOnFail: true },
  })))));
  if (expired.length) logger.info({ expired: expired.length }, 'queued release of expired holds');
  return expired.length;
}
