import { randomUUID } from 'crypto';
import { db, prepared, Statement, Transaction } from './knex';
import { BookingEvent } from './inventory';
import { BookingStatus } from './models';
import type { EventStamp } from '../realtime/publish';

// The transactional outbox (SPEC §2): the one way an effect leaves a transaction. The transaction
// that changes a booking inserts the socket events (all of them in one row) and the jobs
// (vendor-sync, refunds, a row each) it implies;
// the worker relays them right after commit and deletes them once a realtime process received an
// event or its queue holds a job; a periodic relay sends whatever a crash, a Redis failure or a
// moment without realtime processes left behind. Delivery is at least once: clients deduplicate
// on the event id, and a job keeps one id however often it is relayed, so it is added once.

export interface OutboxMessage {
  event: BookingEvent;
  stamp: EventStamp;
}

/** A job a transaction implies, added to its queue after the commit. */
export interface JobSpec {
  queue: string;
  name: string;
  data: unknown;
  /** A job id of its own, when every path that adds this work must meet in one job (a refund); else the outbox id. */
  jobId?: string;
}

export interface OutboxJob extends JobSpec {
  /** The outbox row's id. */
  id: string;
}

/** What one transaction sends out (or what the periodic relay found left over). */
export interface Outbound {
  events: OutboxMessage[];
  /** The outbox rows that hold `events`: one per transaction, so they go out (and are deleted) together. */
  eventRows: string[];
  jobs: OutboxJob[];
}

export const nothingOutbound = (): Outbound => ({ events: [], eventRows: [], jobs: [] });

/** A socket row's payload: a transaction's events, or one event (rows written before events were kept one row per transaction). */
type SocketPayload = { events: OutboxMessage[] } | OutboxMessage;

const messagesOf = (payload: SocketPayload): OutboxMessage[] => ('events' in payload ? payload.events : [payload]);

/** The insert of a transaction's events and jobs, and what they are; null when there is nothing to send. */
export function outboxInsert(events: BookingEvent[], jobs: JobSpec[] = []): { outbound: Outbound; statement: Statement } | null {
  if (events.length === 0 && jobs.length === 0) return null;
  const occurredAt = new Date().toISOString();
  const outbound: Outbound = {
    events: events.map((event) => ({ event, stamp: { event_id: randomUUID(), occurred_at: occurredAt } })),
    eventRows: events.length ? [randomUUID()] : [],
    jobs: jobs.map((job) => ({ id: randomUUID(), ...job })),
  };
  // The events in one row (a batch of holds has two a hold): one insert and one delete a transaction.
  const rows = [
    ...outbound.eventRows.map((id) => ({ id, topic: 'socket', payload: { events: outbound.events } })),
    ...outbound.jobs.map(({ id, ...job }) => ({ id, topic: 'job', payload: job })),
  ];
  return {
    outbound,
    statement: {
      sql: `INSERT INTO outbox (id, topic, payload)
            SELECT m.id, m.topic, m.payload FROM json_to_recordset(?::json) AS m(id uuid, topic text, payload jsonb)`,
      bindings: [JSON.stringify(rows)],
    },
  };
}

/** Inserts the events and jobs of this transaction; they leave only if it commits. */
export async function addToOutbox(trx: Transaction, events: BookingEvent[], jobs: JobSpec[] = []): Promise<Outbound> {
  const insert = outboxInsert(events, jobs);
  if (!insert) return nothingOutbound();
  await trx.raw(insert.statement.sql, insert.statement.bindings);
  return insert.outbound;
}

export async function deleteSent(ids: string[]): Promise<void> {
  if (ids.length) await prepared(db, 'DELETE FROM outbox WHERE id = ANY(?::uuid[])', [ids]);
}

/**
 * Hands `send` the rows older than `minAgeMs` (the relay after commit had its chance) that no
 * other relay is sending right now, brought up to date, and deletes the ones `send` says went out.
 * Socket events older than `dropAfterMs` are deleted unsent: a client that missed them for that
 * long has reconnected and read the state since. Jobs are never dropped.
 */
export async function relayLeftovers(
  send: (outbound: Outbound) => Promise<string[]>, minAgeMs: number, dropAfterMs: number, limit = 500,
): Promise<{ sent: number; dropped: number }> {
  const dropped = await db('outbox').where('topic', 'socket')
    .where('created_at', '<', db.raw(`now() - make_interval(secs => ?)`, [dropAfterMs / 1000])).delete();
  const sent = await db.transaction(async (trx) => {
    const rows: Array<{ id: string; topic: 'socket' | 'job'; payload: any }> = await trx('outbox')
      .where('created_at', '<', trx.raw(`now() - make_interval(secs => ?)`, [minAgeMs / 1000]))
      .orderBy('created_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .select('id', 'topic', 'payload');
    if (rows.length === 0) return 0;
    const socketRows = rows.filter((row) => row.topic === 'socket');
    const events = await upToDate(trx, socketRows.flatMap((row) => messagesOf(row.payload as SocketPayload)));
    const jobs = rows.filter((row) => row.topic === 'job').map((row) => ({ id: row.id, ...(row.payload as JobSpec) }));
    const done = await send({ events, eventRows: socketRows.map((row) => row.id), jobs });
    if (done.length) await trx('outbox').whereIn('id', done).delete();
    return done.length;
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
