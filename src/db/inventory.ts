import { prepared, Statement, Transaction } from './knex';
import { BookingStatus } from './models';
import type { PublishedEvent } from '../realtime/publish';

// slot_inventory is the only count of free units. Every change locks its rows in (slot_id,
// book_date) order, the one order every booking transaction uses, so transactions that touch
// several rows wait for each other instead of deadlocking. The updates are conditional and their
// row counts are checked: a change the CHECK or the condition refuses aborts the transaction.

export interface SlotDate {
  slotId: number;
  bookDate: string;
}

export interface InventoryChange extends SlotDate {
  delta: number;
  availableAfter: number;
}

export interface LockedInventory {
  available(slotId: number, bookDate: string): number;
  /** Takes one unit in memory; write it with applyInventory. */
  take(slotId: number, bookDate: string): InventoryChange;
  /** Gives one unit back in memory; write it with applyInventory. */
  give(slotId: number, bookDate: string): InventoryChange;
}

const keyOf = (slotId: number, bookDate: string) => `${slotId}:${bookDate}`;

/**
 * Creates missing rows at the game's capacity and locks every row named. The game row is read FOR
 * SHARE, so a capacity change in progress (PATCH /games/:id) commits first and a new row never
 * starts from the old capacity.
 */
export async function lockInventory(trx: Transaction, wanted: SlotDate[]): Promise<LockedInventory> {
  return (await lockInventoryWith(trx, wanted)).inventory;
}

/**
 * lockInventory, with `alongside`, a read that must follow locks taken by earlier statements (a
 * count of holds after the users' locks), in the same statement to save a round trip: its rows
 * come back as JSON.
 */
export async function lockInventoryWith(trx: Transaction, wanted: SlotDate[], alongside?: Statement): Promise<{ inventory: LockedInventory; alongside: any[] }> {
  const unique = [...new Map(wanted.map((w) => [keyOf(w.slotId, w.bookDate), w])).values()]
    .sort((a, b) => a.slotId - b.slotId || a.bookDate.localeCompare(b.bookDate));
  const counts = new Map<string, { available: number; capacity: number }>();
  let alongsideRows: any[] = [];
  if (unique.length > 0 || alongside) {
    // One statement creates the missing rows and locks the existing ones, in (slot_id, book_date)
    // order: ON CONFLICT DO UPDATE takes the row lock a SELECT … FOR UPDATE would, and returns the
    // row as it is after that wait.
    const result = (await prepared(trx,
      `WITH locked AS (
         INSERT INTO slot_inventory AS i (slot_id, book_date, game_id, capacity, available)
         SELECT s.id, p.book_date, s.game_id, g.total_slots, g.total_slots
           FROM unnest(?::int[], ?::date[]) AS p(slot_id, book_date)
           JOIN slots s ON s.id = p.slot_id
           JOIN games g ON g.id = s.game_id
          ORDER BY s.id, p.book_date
          FOR SHARE OF g
         ON CONFLICT (slot_id, book_date) DO UPDATE SET available = i.available
         RETURNING i.slot_id, i.book_date, i.available, i.capacity
       ), alongside AS (${alongside?.sql ?? 'SELECT WHERE false'})
       SELECT (SELECT coalesce(json_agg(l), '[]') FROM locked l) AS locked, (SELECT coalesce(json_agg(a), '[]') FROM alongside a) AS alongside`,
      [unique.map((w) => w.slotId), unique.map((w) => w.bookDate), ...(alongside?.bindings ?? [])],
    )).rows[0] as { locked: Array<{ slot_id: number; book_date: string; available: number; capacity: number }>; alongside: any[] };
    for (const row of result.locked) counts.set(keyOf(row.slot_id, row.book_date), { available: row.available, capacity: row.capacity });
    alongsideRows = result.alongside;
  }
  const change = (slotId: number, bookDate: string, delta: number): InventoryChange => {
    const count = counts.get(keyOf(slotId, bookDate));
    if (!count) throw new Error(`inventory ${slotId}:${bookDate} was not locked`);
    count.available += delta;
    return { slotId, bookDate, delta, availableAfter: count.available };
  };
  const inventory: LockedInventory = {
    available: (slotId, bookDate) => counts.get(keyOf(slotId, bookDate))?.available ?? 0,
    take: (slotId, bookDate) => change(slotId, bookDate, -1),
    give: (slotId, bookDate) => change(slotId, bookDate, +1),
  };
  return { inventory, alongside: alongsideRows };
}

/**
 * Writes in-memory changes of locked rows: one statement, every row conditional. `alongside`, a
 * data-changing statement with RETURNING (a booking insert), travels in the same statement, to
 * save a round trip; its returned rows are the result.
 */
export async function applyInventory(trx: Transaction, changes: InventoryChange[], alongside?: Statement): Promise<any[]> {
  const net = new Map<string, SlotDate & { delta: number }>();
  for (const c of changes) {
    const key = keyOf(c.slotId, c.bookDate);
    const entry = net.get(key) ?? { slotId: c.slotId, bookDate: c.bookDate, delta: 0 };
    entry.delta += c.delta;
    net.set(key, entry);
  }
  const rows = [...net.values()].filter((r) => r.delta !== 0);
  const result = await prepared(trx,
    `WITH changed AS (
       UPDATE slot_inventory AS i SET available = i.available + c.delta
         FROM unnest(?::int[], ?::date[], ?::int[]) AS c(slot_id, book_date, delta)
        WHERE i.slot_id = c.slot_id AND i.book_date = c.book_date
          AND i.available + c.delta BETWEEN 0 AND i.capacity
       RETURNING 1
     ), alongside AS (${alongside?.sql ?? 'SELECT NULL WHERE false'})
     SELECT (SELECT count(*) FROM changed)::int AS changed, (SELECT coalesce(json_agg(a), '[]') FROM alongside a) AS alongside`,
    [rows.map((r) => r.slotId), rows.map((r) => r.bookDate), rows.map((r) => r.delta), ...(alongside?.bindings ?? [])],
  );
  const { changed, alongside: returned } = result.rows[0];
  if (changed !== rows.length) throw new Error(`inventory update refused: ${changed} of ${rows.length} rows changed`);
  return returned;
}

/** What a booking transaction tells clients; it leaves through the outbox (src/db/outbox.ts). */
export type BookingEvent = PublishedEvent;

export function bookingUpdated(
  booking: { id: number; user_id: number; vendor_id: number; game_id: number; slot_id: number; book_date: string },
  status: BookingStatus,
): BookingEvent {
  return {
    kind: 'booking_updated',
    payload: { booking_id: booking.id, user_id: booking.user_id, vendor_id: booking.vendor_id, game_id: booking.game_id, slot_id: booking.slot_id, book_date: booking.book_date, status },
  };
}

export function slotPending(
  booking: { id: number; vendor_id: number; game_id: number; slot_id: number; book_date: string },
  availableAfter: number,
): BookingEvent {
  return {
    kind: 'slot_pending',
    payload: { vendor_id: booking.vendor_id, game_id: booking.game_id, slot_id: booking.slot_id, date: booking.book_date, available_slot: availableAfter, booking_id: booking.id },
  };
}

export function slotReleased(booking: { vendor_id: number; game_id: number; slot_id: number; book_date: string }, availableAfter: number): BookingEvent {
  return {
    kind: 'slot_released',
    payload: { vendor_id: booking.vendor_id, game_id: booking.game_id, slot_id: booking.slot_id, date: booking.book_date, available_slot: availableAfter },
  };
}
