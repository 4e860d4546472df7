import { db } from '../../src/db/knex';

/**
 * SPEC §6 and §10.1 as SQL: every inventory row's `available` equals its capacity minus the live
 * (pending_verified or confirmed) bookings of that slot and date, and never goes below zero.
 * Returns the rows that break it; an empty list means the invariant holds.
 */
export async function inventoryMismatches(gameId?: number): Promise<Array<{ slot_id: number; book_date: string; capacity: number; available: number; live: number }>> {
  const result = await db.raw(
    `SELECT i.slot_id, i.book_date, i.capacity, i.available, count(b.id)::int AS live
       FROM slot_inventory i
       LEFT JOIN bookings b ON b.slot_id = i.slot_id AND b.book_date = i.book_date
                           AND b.status IN ('pending_verified', 'confirmed')
      WHERE (?::int IS NULL OR i.game_id = ?::int)
      GROUP BY i.slot_id, i.book_date, i.capacity, i.available
     HAVING i.available <> i.capacity - count(b.id) OR i.available < 0
     UNION ALL
     SELECT b.slot_id, b.book_date, NULL, NULL, count(*)::int
       FROM bookings b
      WHERE b.status IN ('pending_verified', 'confirmed') AND (?::int IS NULL OR b.game_id = ?::int)
        AND NOT EXISTS (SELECT 1 FROM slot_inventory i WHERE i.slot_id = b.slot_id AND i.book_date = b.book_date)
      GROUP BY b.slot_id, b.book_date`,
    [gameId ?? null, gameId ?? null, gameId ?? null, gameId ?? null],
  );
  return result.rows;
}
