import { randomUUID } from 'crypto';
import { db, Transaction } from './knex';
import { BookingEvent } from './inventory';
import type { EventStamp } from '../realtime/publish';

// The transactional outbox (SPEC §2): the one way an effect leaves a transaction. The transaction
// that changes a booking inserts the events it implies; the worker relays them right after commit
// and deletes them once Redis took them; a periodic relay sends whatever a crash or a Redis
// failure left behind. Delivery is at least once: clients deduplicate on the event id.

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
 * no other relay is sending right now, and deletes them once `send` resolved. Returns how many.
 */
export async function relayLeftovers(send: (messages: OutboxMessage[]) => Promise<void>, minAgeMs: number, limit = 500): Promise<number> {
  return db.transaction(async (trx) => {
    const rows: Array<{ id: string; payload: OutboxMessage }> = await trx('outbox')
      .where('created_at', '<', trx.raw(`now() - make_interval(secs => ?)`, [minAgeMs / 1000]))
      .orderBy('created_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .select('id', 'payload');
    if (rows.length === 0) return 0;
    await send(rows.map((row) => row.payload));
    await trx('outbox').whereIn('id', rows.map((row) => row.id)).delete();
    return rows.length;
  });
}
