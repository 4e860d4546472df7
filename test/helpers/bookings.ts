import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { db } from '../../src/db/knex';
import { Game, Slot, User, Vendor } from '../../src/db/models';
import { localNow } from '../../src/domain/dates';
import { api, ApiResponse, tokenFor } from './api';
import { dateInDays, makeGame, makeUser, makeVendor } from './fixtures';
import { startWorkers, stopWorkers, WorkerProcess } from './workers';

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
 * inventory row. Throws an assertion naming every row that disagrees. Without a game: every game.
 */
export async function assertInventoryMatches(gameId?: number): Promise<void> {
  const mismatches: InventoryMismatch[] = (await db.raw(
    `WITH live AS (
       SELECT slot_id, book_date, count(*)::int AS live
         FROM bookings
        WHERE (?::int IS NULL OR game_id = ?::int) AND status IN ('pending_verified', 'confirmed')
        GROUP BY slot_id, book_date
     )
     SELECT coalesce(i.slot_id, l.slot_id) AS slot_id,
            to_char(coalesce(i.book_date, l.book_date), 'YYYY-MM-DD') AS book_date,
            i.capacity, i.available, coalesce(l.live, 0) AS live
       FROM (SELECT * FROM slot_inventory WHERE ?::int IS NULL OR game_id = ?::int) i
       FULL JOIN live l ON l.slot_id = i.slot_id AND l.book_date = i.book_date
      WHERE i.slot_id IS NULL
         OR i.available <> i.capacity - coalesce(l.live, 0)
         OR coalesce(l.live, 0) > i.capacity
      ORDER BY 1, 2`,
    [gameId ?? null, gameId ?? null, gameId ?? null, gameId ?? null],
  )).rows;
  assert.equal(mismatches, [], `inventory of ${gameId ? `game ${gameId}` : 'every game'} disagrees with its live bookings: ${JSON.stringify(mismatches)}`);
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
 * For state that workers change asynchronously: no fixed sleeps. A probe that throws counts as "not
 * yet"; `giveUp`, when it returns a message (a process the wait depends on died), fails at once.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 5000, everyMs = 50, giveUp: () => string | null = () => null,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    const reason = giveUp();
    if (reason) throw new Error(`waiting for ${what}: ${reason}`);
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Sessions of this test database waiting for a heavyweight lock (a row, a transaction id) right now. */
export async function lockWaiters(): Promise<number> {
  const { rows } = await db.raw(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
  return rows[0].n;
}

// ---- fixtures ---------------------------------------------------------------------------------

export interface BookingCafe {
  vendor: Vendor;
  game: Game;
  slots: Slot[];
  user: User;
  /** A user token for `user`. */
  token: string;
  /** A bookable future date in the vendor's zone (YYYY-MM-DD). */
  date: string;
}

/**
 * A cafe with one game (default capacity 3 and 23 hourly slots 00:00–22:00), a customer and their
 * token, and a future date a few days ahead that the cafe is open on.
 */
export async function bookingCafe(options: {
  total_slots?: number;
  timezone?: string;
  opening_days?: string[];
  slots?: Array<[string, string]>;
  days_ahead?: number;
  price_rupees?: number;
} = {}): Promise<BookingCafe> {
  const vendor = await makeVendor({
    ...(options.timezone ? { timezone: options.timezone } : {}),
    ...(options.opening_days ? { opening_days: options.opening_days } : {}),
  });
  const { game, slots } = await makeGame(vendor.id, {
    total_slots: options.total_slots ?? 3,
    ...(options.slots ? { slots: options.slots } : {}),
    ...(options.price_rupees !== undefined ? { price_rupees: options.price_rupees } : {}),
  });
  const user = await makeUser();
  return { vendor, game, slots, user, token: tokenFor('user', user.id), date: dateInDays(options.days_ahead ?? 3, vendor.timezone) };
}

/** Another customer with a token. */
export async function makeCustomer(): Promise<{ user: User; token: string }> {
  const user = await makeUser();
  return { user, token: tokenFor('user', user.id) };
}

export interface HoldBody {
  slot_id: number | number[];
  user_id: number;
  game_id: number;
  book_date: string;
}

export function postHold(token: string | undefined, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  return api('POST', '/bookings', { token, body, headers });
}

/** Holds `slotIds` for the cafe's customer (or `as`) and insists on 201; returns the booking ids in request order. */
export async function holdOrFail(cafe: BookingCafe, slotIds: number[], as: { user: User; token: string } = cafe, bookDate = cafe.date): Promise<number[]> {
  const response = await postHold(as.token, { slot_id: slotIds, user_id: as.user.id, game_id: cafe.game.id, book_date: bookDate });
  assert.is(response.status, 201, `hold failed: ${JSON.stringify(response.body)}`);
  return response.body.bookings.map((b: { booking_id: number }) => b.booking_id);
}

/**
 * An Etc/GMT±N zone whose wall clock now shows `hour` (every hour of the day exists somewhere
 * between UTC−12 and UTC+14), so a test can reason about "slots that already started today".
 */
export function zoneWhereLocalHourIs(hour: number, now: Date = new Date()): string {
  for (let offset = -12; offset <= 14; offset++) {
    // Etc/GMT signs are inverted: Etc/GMT-5 is UTC+5.
    const zone = offset === 0 ? 'Etc/GMT' : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
    if (Number(localNow(zone, now).time.slice(0, 2)) === hour) return zone;
  }
  throw new Error(`no whole-hour zone shows ${hour}:xx now`);
}

// ---- worker processes -------------------------------------------------------------------------

/**
 * Starts `count` real worker processes before the suite's first test and stops them after its
 * last, so that workers with another configuration (short TTL) never take this suite's jobs or
 * outlive it. `current()` gives the running set; a test may replace it through `restart`.
 */
export function useWorkers(suite: Test, count = 1, env: Record<string, string> = {}) {
  let workers: WorkerProcess[] = [];
  suite.before(async () => {
    workers = await startWorkers(count, env);
  });
  suite.after(async () => {
    await stopWorkers(workers);
    workers = [];
  });
  return {
    current: () => workers,
    async stop(): Promise<void> {
      await stopWorkers(workers);
      workers = [];
    },
    async start(extraEnv: Record<string, string> = {}): Promise<void> {
      workers = [...workers, ...(await startWorkers(count, { ...env, ...extraEnv }))];
    },
  };
}
