import { BookingEvent } from '../db/inventory';
import { publishBookingUpdated, publishSlotPending, publishSlotReleased } from '../realtime/publish';

/** Called only after the transaction that produced the events has committed. */
export function publishEvents(events: BookingEvent[]): void {
  for (const event of events) {
    if (event.kind === 'booking_updated') publishBookingUpdated(event.payload);
    else if (event.kind === 'slot_pending') publishSlotPending(event.payload);
    else publishSlotReleased(event.payload);
  }
}
