import { randomUUID } from 'crypto';
import { db, Transaction } from './knex';
import { BookingEvent } from './inventory';
import { BookingStatus } from './models';
import type { EventStamp } from '../realtime/publish';

// The transactional outbox (SPEC §2): the one way an effect leaves a transaction. The transaction
// that changes a booking inserts the events it implies; the worker relays them right after commit
// and deletes them once a realtime process received them; a periodic relay sends whatever a
// crash, a Redis failure or a moment without realtime processes left behind. Delivery is at least once: clients deduplicate on the event id.

export interface OutboxMessage {
  event: BookingEvent;
  stamp: EventStamp;
}

/** Inserts the events of this transaction; they leave only if it commits. */
export async function addToOutbox(trx: Transaction, events: BookingEvent[]): Promise<OutboxMessage[]> {
  if (events.length === 0) return [];
  const occurredAt = new Date().toISOString();
  const messages = events.map((event) => ({ event, stamp: { event_id: randomUUID(), occurred_at: occurredAt } }));
  await trx.raw(
    `INSERT INTO outbox (id, topic, payload)
     SELECT m.id, 'socket', m.payload FROM json_to_recordset(?::json) AS m(id uuid, payload jsonb)`,
    [JSON.stringify(messages.map((m) => ({ id: m.stamp.event_id, payload: m })))],
  );
  return messages;
}

export async function deleteSent(messages: OutboxMessage[]): Promise<void> {
  if (messages.length) await db('outbox').whereIn('id', messages.map((m) => m.stamp.event_id)).delete();
}

/**
 * Hands `send` the messages older than `minAgeMs` (the relay after commit had its chance) that
 * no other relay is sending right now, brought up to date, and deletes them once `send` resolved.
 * Socket events older than `dropAfterMs` are deleted unsent: a client that missed them for that
 * long has reconnected and read the state since. Returns how many were sent and dropped.
 */
export async function relayLeftovers(
  send: (messages: OutboxMessage[]) => Promise<void>, minAgeMs: number, dropAfterMs: number, limit = 500,
): Promise<{ sent: number; dropped: number }> {
  const dropped = await db('outbox').where('topic', 'socket')
    .where('created_at', '<', db.raw(`now() - make_interval(secs => ?)`, [dropAfterMs / 1000])).delete();
  const sent = await db.transaction(async (trx) => {
    const rows: Array<{ id: string; payload: OutboxMessage }> = await trx('outbox')
      .where('created_at', '<', trx.raw(`now() - make_interval(secs => ?)`, [minAgeMs / 1000]))
      .orderBy('created_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .select('id', 'payload');
    if (rows.length === 0) return 0;
    await send(await upToDate(trx, rows.map((row) => row.payload)));
    await trx('outbox').whereIn('id', rows.map((row) => row.id)).delete();
    return rows.length;
  });
  return { sent, dropped };
}

/**
 * A leftover can arrive after later events of its slot or booking were sent (a hold's relay
 * failed, its release's did not): it carries the slot's count and the booking's status as they
 * are now, so a client that applies events in arrival order still ends on the truth.
 */
async function upToDate(trx: Transaction, messages: OutboxMessage[]): Promise<OutboxMessage[]> {
  const slotEvents = messages.flatMap((m) => (m.event.kind === 'booking_updated' ? [] : [m.event.payload]));
  const bookingIds = messages.flatMap((m) => (m.event.kind === 'booking_updated' ? [m.event.payload.booking_id] : []));
  const available = new Map<string, number>();
  if (slotEvents.length) {
    const rows: Array<{ slot_id: number; book_date: string; available: number }> = (await trx.raw(
      `SELECT i.slot_id, i.book_date, i.available FROM slot_inventory i
         JOIN unnest(?::int[], ?::date[]) AS p(slot_id, book_date) ON p.slot_id = i.slot_id AND p.book_date = i.book_date`,
      [slotEvents.map((e) => e.slot_id), slotEvents.map((e) => e.date)],
    )).rows;
    for (const row of rows) available.set(`${row.slot_id}:${row.book_date}`, row.available);
  }
  const bookings = new Map<number, { status: BookingStatus; slot_id: number; book_date: string }>();
  if (bookingIds.length) {
    const rows = await trx('bookings').whereIn('id', bookingIds).select('id', 'status', 'slot_id', 'book_date');
    for (const row of rows) bookings.set(row.id, { status: row.status, slot_id: row.slot_id, book_date: row.book_date });
  }
  return messages.map((message): OutboxMessage => {
    const { event } = message;
    if (event.kind === 'booking_updated') {
      const now = bookings.get(event.payload.booking_id);
      return now ? { ...message, event: { kind: event.kind, payload: { ...event.payload, ...now } } } : message;
    }
    const now = available.get(`${event.payload.slot_id}:${event.payload.date}`);
    return now === undefined ? message : { ...message, event: { ...event, payload: { ...event.payload, available_slot: now } } } as OutboxMessage;
  });
}
