import { BookingEvent } from '../db/inventory';
import { JobSpec } from '../db/outbox';
import { BookingStatus } from '../db/models';
import { QUEUE_NAMES } from './queues';

// The vendor-sync queue (SPEC §2, §8): brings the vendor tables in line with the bookings truth
// for the bookings a transaction changed. Idempotent upserts from what the bookings are now, so a
// job run twice, late, or out of order still leaves the right rows.

export interface VendorSyncData {
  bookingIds: number[];
}

/** Statuses a vendor's dashboard shows: a booking appears once paid for. Holds and expiries never do. */
const SHOWN: BookingStatus[] = ['confirmed', 'cancelled', 'refunded'];

/** The vendor-sync job a transaction's events imply, if any. */
export function vendorSyncJobs(events: BookingEvent[]): JobSpec[] {
  const bookingIds = [...new Set(events.flatMap((e) => (e.kind === 'booking_updated' && SHOWN.includes(e.payload.status) ? [e.payload.booking_id] : [])))];
  return bookingIds.length ? [{ queue: QUEUE_NAMES.vendorSync, name: 'sync-bookings', data: { bookingIds } satisfies VendorSyncData }] : [];
}
