import { randomUUID } from 'crypto';
import { BookingEvent } from '../db/inventory';
import { JobSpec } from '../db/outbox';
import { BookingStatus } from '../db/models';
import { queue, QUEUE_NAMES, RELAYED_JOB_OPTIONS } from './queues';

// The vendor-sync queue (SPEC §2, §8): brings the vendor tables in line with the bookings truth.
// `sync-bookings` rewrites the rows of the bookings a transaction changed (added through the
// outbox) or whose status the clock moved on; `repair-vendor` rebuilds one vendor's rows. Both
// read what the bookings are now, so a job run twice, late, or out of order still leaves the
// right rows. Retried with exponential backoff (RELAYED_JOB_OPTIONS).

export interface VendorSyncData {
  bookingIds: number[];
}

export interface RepairVendorData {
  vendorId: number;
}

export type VendorSyncJobName = 'sync-bookings' | 'repair-vendor';

/** Statuses a vendor's dashboard shows: a booking appears once paid for. Holds and expiries never do. */
const SHOWN: BookingStatus[] = ['confirmed', 'cancelled', 'refunded'];

/** The vendor-sync job a transaction's events imply, if any. */
export function vendorSyncJobs(events: BookingEvent[]): JobSpec[] {
  const bookingIds = [...new Set(events.flatMap((e) => (e.kind === 'booking_updated' && SHOWN.includes(e.payload.status) ? [e.payload.booking_id] : [])))];
  return bookingIds.length ? [{ queue: QUEUE_NAMES.vendorSync, name: 'sync-bookings', data: { bookingIds } satisfies VendorSyncData }] : [];
}

export function vendorSyncQueue() {
  return queue(QUEUE_NAMES.vendorSync);
}

/** Queues a sync of these bookings' rows (the clock job: statuses that time moved on; the audit: rows that drifted). */
export async function enqueueBookingSync(bookingIds: number[]): Promise<void> {
  await vendorSyncQueue().add('sync-bookings', { bookingIds } satisfies VendorSyncData, RELAYED_JOB_OPTIONS);
}

/** Queues a rebuild of one vendor's rows; returns its job id. */
export async function enqueueRepair(vendorId: number): Promise<string> {
  const jobId = `repair-vendor-${vendorId}-${randomUUID()}`;
  await vendorSyncQueue().add('repair-vendor', { vendorId } satisfies RepairVendorData, { ...RELAYED_JOB_OPTIONS, jobId });
  return jobId;
}
