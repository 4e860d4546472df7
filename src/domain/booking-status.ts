import type { BookingStatus } from '../db/models';

// SPEC §6. Every transition is also a conditional update (WHERE status = <from>) in the database,
// so two racing transitions cannot both win; this table says which ones are allowed at all.
const TRANSITIONS: Record<BookingStatus, BookingStatus[]> = {
  pending_verified: ['confirmed', 'cancelled', 'verification_failed'],
  confirmed: ['cancelled'],
  verification_failed: ['confirmed', 'refunded'], // a late payment retakes the slot, or is refunded
  cancelled: [],
  refunded: [],
};

export function canTransition(from: BookingStatus, to: BookingStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Statuses that hold a unit of inventory. */
export const LIVE_STATUSES: BookingStatus[] = ['pending_verified', 'confirmed'];
