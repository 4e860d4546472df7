import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';

// Shared checks and fixtures for the booking tests: the SPEC §6 inventory invariant, read straight
// from SQL, and small helpers to build and poll booking state.

interface InventoryMismatch {
  slot_id: number;
  book_date: string;
  capacity: number;
  available: number | null;
  live: number;
}

/**
 * SPEC §6: for every (slot, date) of the game, `available = capacity − (pending_verified +
 * confirmed)`, and no (slot, date) has more live bookings than capacity or live bookings without an
 * inventory row. Throws an assertion naming every row that disagrees.
 */
export async function assertInventoryMatches(gameId: number): Promise<void> {
  const mismatches: InventoryMismatch[] = (await db.raw(
    `WITH live AS (
       SELECT slot_id, book_date, count(*)::int AS live
         FROM bookings
        WHERE game_id = ? AND status IN ('pending_verified', 'confirmed')
        GROUP BY slot_id, book_date
     )
     SELECT coalesce(i.slot_id, l.slot_id) AS slot_id,
            to_char(coalesce(i.book_date, l.book_date), 'YYYY-MM-DD') AS book_date,
            i.capacity, i.available, coalesce(l.live, 0) AS live
       FROM (SELECT * FROM slot_inventory WHERE game_id = ?) i
       FULL JOIN live l ON l.slot_id = i.slot_id AND l.book_date = i.book_date
      WHERE i.slot_id IS NULL
         OR i.available <> i.capacity - coalesce(l.live, 0)
         OR coalesce(l.live, 0) > i.capacity
      ORDER BY 1, 2`,
    [gameId, gameId],
  )).rows;
  assert.equal(mismatches, [], `inventory of game ${gameId} disagrees with its live bookings: ${JSON.stringify(mismatches)}`);
}

/** The free units of one (slot, date) as stored, or null when nothing was ever held there. */
export async function availableUnits(slotId: number, bookDate: string): Promise<number | null> {
  const row = await db('slot_inventory').where({ slot_id: slotId, book_date: bookDate }).first('available');
  return row ? row.available : null;
}

export interface BookingRow {
  id: number;
  user_id: number;
  game_id: number;
  slot_id: number;
  book_date: string;
  status: string;
  hold_expires_at: Date | null;
}

export async function bookingRow(id: number): Promise<BookingRow | undefined> {
  return db('bookings').where({ id }).first('id', 'user_id', 'game_id', 'slot_id', 'book_date', 'status', 'hold_expires_at');
}

export async function bookingRowsOfGame(gameId: number): Promise<BookingRow[]> {
  return db('bookings').where({ game_id: gameId }).orderBy('id')
    .select('id', 'user_id', 'game_id', 'slot_id', 'book_date', 'status', 'hold_expires_at');
}

/**
 * Polls `probe` until it returns something other than undefined/false, or fails after `timeoutMs`.
 * For state that workers change asynchronously: no fixed sleeps.
 */
export async function eventually<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
