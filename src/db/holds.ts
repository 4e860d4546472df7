import { config } from '../config';
import { prepared, Statement, Transaction } from './knex';
import { Actor, HoldRequest, Outcome, slotUnavailable } from '../domain/booking-types';
import { bookingDay, canHold } from '../domain/slot-availability';
import { Conflict, Forbidden, NotFound } from '../errors';
import { applyInventory, BookingEvent, bookingUpdated, InventoryChange, lockInventoryWith, LockedInventory, slotPending } from './inventory';
import { customersAmong } from './customers';

// Holds: all or nothing per request, any number of requests in one transaction. The booking
// worker passes every hold it has waiting for one partition, so a hot slot pays for one
// transaction per batch instead of one per request, while the partition still runs one job at a
// time. Requests are decided in arrival order against the locked inventory and the users' holds
// counted after their locks, exactly as if they had run one after another. The request ledger
// (runLedgered, called by the worker) has already set aside requests answered before.

export interface HoldLimits {
  holdTtlSeconds: number;
  maxPendingHoldsPerUser: number;
  maxDaysAhead: number;
}

export const configuredHoldLimits = (): HoldLimits => ({
  holdTtlSeconds: config.holdTtlSeconds,
  maxPendingHoldsPerUser: config.maxPendingHoldsPerUser,
  maxDaysAhead: config.maxDaysAhead,
});

export interface HoldBatchResult {
  outcomes: Outcome[];
  events: BookingEvent[];
}

interface GameRow {
  id: number;
  vendor_id: number;
  single_slot_price_paise: number;
  timezone: string;
  opening_days: string[];
}

interface Catalog {
  games: Map<number, GameRow>;
  slots: Map<number, { game_id: number; start_time: string }>;
}

/** The cafe whose allowance a hold counts against: the cafe that made it for its customer, or none. */
function heldByVendor(actor: Actor, userId: number): number | null {
  return actor.role === 'vendor' && actor.userId !== userId ? actor.vendorId : null;
}

const allowanceKey = (userId: number, vendorId: number | null) => `${userId}:${vendorId ?? ''}`;

function frozenAnswer(bookings: Array<{ slot_id: number; booking_id: number }>, holdExpiresAt: Date): Outcome {
  return {
    status: 201,
    body: { message: 'Slots frozen', bookings, status: 'pending_verified', hold_expires_at: holdExpiresAt.toISOString() },
  };
}

/**
 * One statement locks the users (their holds across every partition, lock order 2) and reads the
 * games, their cafes and the requested slots that belong to them (the catalog needs no lock:
 * capacity comes from the locked inventory). Returns the catalog and the users that exist.
 */
async function lockUsersAndReadCatalog(trx: Transaction, requests: HoldRequest[]): Promise<{ catalog: Catalog; users: Set<number> }> {
  const { catalog: rows, users }: { catalog: Array<GameRow & { slot_id: number | null; start_time: string | null }>; users: number[] } = (await prepared(trx,
    `WITH locked AS (SELECT id FROM users WHERE id = ANY(?::int[]) ORDER BY id FOR UPDATE),
     catalog AS (
       SELECT g.id, g.vendor_id, g.single_slot_price_paise, v.timezone, v.opening_days, s.id AS slot_id, s.start_time
         FROM games g
         JOIN vendors v ON v.id = g.vendor_id
         LEFT JOIN slots s ON s.game_id = g.id AND s.id = ANY(?::int[])
        WHERE g.id = ANY(?::int[])
     )
     SELECT (SELECT coalesce(json_agg(c), '[]') FROM catalog c) AS catalog, (SELECT coalesce(json_agg(id), '[]') FROM locked) AS users`,
    [[...new Set(requests.map((r) => r.userId))], [...new Set(requests.flatMap((r) => r.slotIds))], [...new Set(requests.map((r) => r.gameId))]],
  )).rows[0];
  return {
    catalog: {
      games: new Map(rows.map((g) => [g.id, g])),
      slots: new Map(rows.filter((r) => r.slot_id !== null).map((r) => [r.slot_id!, { game_id: r.id, start_time: r.start_time! }])),
    },
    users: new Set(users),
  };
}

/**
 * Pending holds per allowance (the user's own, or one cafe's for that user), to be counted in a
 * statement after the users' locks. A hold past its time still counts until the sweeper releases
 * it: it still takes its unit.
 */
function pendingHoldsCount(userIds: number[]): Statement {
  return {
    sql: `SELECT user_id, held_by_vendor_id, count(*)::int AS pending FROM bookings
           WHERE user_id = ANY(?::int[]) AND status = 'pending_verified'
           GROUP BY user_id, held_by_vendor_id`,
    bindings: [userIds],
  };
}

export async function applyHolds(trx: Transaction, requests: HoldRequest[], limits: HoldLimits, now: Date = new Date()): Promise<HoldBatchResult> {
  const outcomes: Array<Outcome | undefined> = new Array(requests.length);
  // Lock: users first (their holds across every partition), then inventory; then read. The race:
  // one user's holds for games in two partitions run at once; a count taken in the statement that
  // waits for the user's lock comes from a snapshot before that wait and misses the holds the other
  // partition just committed, so the limit is counted in the next statement (the inventory's).
  const { catalog, users: existingUsers } = await lockUsersAndReadCatalog(trx, requests);

  // Refuse what needs no inventory: a request refused for its game or cafe neither locks nor
  // creates inventory rows.
  // SPEC §4: a cafe holds only for its own customers, so it can never read a stranger's contact
  // details through a booking it made.
  const forCafes = requests.filter((r) => heldByVendor(r.actor, r.userId) !== null);
  const customers = await customersAmong(trx, forCafes.map((r) => ({ vendorId: r.actor.vendorId!, userId: r.userId })));
  requests.forEach((request, index) => {
    const game = catalog.games.get(request.gameId);
    if (!game) outcomes[index] = { status: 404, body: new NotFound('Game').toBody() };
    else if (request.actor.role === 'vendor' && request.actor.vendorId !== game.vendor_id) {
      outcomes[index] = { status: 403, body: new Forbidden('A cafe may hold slots only at its own cafe').toBody() };
    } else if (heldByVendor(request.actor, request.userId) !== null && !customers.has(`${game.vendor_id}:${request.userId}`)) {
      outcomes[index] = { status: 403, body: new Forbidden('A cafe may hold slots only for its own customers').toBody() };
    }
  });

  requests.forEach((request, index) => {
    if (!outcomes[index] && !existingUsers.has(request.userId)) outcomes[index] = { status: 404, body: new NotFound('User').toBody() };
  });
  // Closed, past, too far ahead and foreign slots are noted, not yet answered, so that the answer
  // names every slot that cannot be held, full ones included.
  const unholdable = requests.map((request) => {
    const game = catalog.games.get(request.gameId);
    if (!game) return [];
    const day = bookingDay(game, request.bookDate, now);
    return request.slotIds.filter((slotId) => {
      const slot = catalog.slots.get(slotId);
      return !slot || slot.game_id !== request.gameId || !canHold(day, slot.start_time, limits.maxDaysAhead);
    });
  });
  const candidates = requests.map((_, index) => index).filter((index) => !outcomes[index]);
  const locked = await lockInventoryWith(trx, candidates.flatMap((index) => requests[index].slotIds
    .filter((slotId) => !unholdable[index].includes(slotId))
    .map((slotId) => ({ slotId, bookDate: requests[index].bookDate }))), pendingHoldsCount([...existingUsers]));
  const { inventory } = locked;
  const pendingHolds = new Map((locked.alongside as Array<{ user_id: number; held_by_vendor_id: number | null; pending: number }>)
    .map((row) => [allowanceKey(row.user_id, row.held_by_vendor_id), row.pending]));

  // Decide, in arrival order.
  const holdExpiresAt = new Date(now.getTime() + limits.holdTtlSeconds * 1000);
  const taken: Array<{ index: number; change: InventoryChange; row: NewBooking }> = [];
  for (const index of candidates) {
    const request = requests[index];
    const refusal = decide(request, unholdable[index], inventory, pendingHolds, limits);
    if (refusal) {
      outcomes[index] = refusal;
      continue;
    }
    const game = catalog.games.get(request.gameId)!;
    for (const slotId of request.slotIds) {
      taken.push({
        index,
        change: inventory.take(slotId, request.bookDate),
        row: {
          user_id: request.userId, vendor_id: game.vendor_id, game_id: game.id, slot_id: slotId, book_date: request.bookDate,
          status: 'pending_verified', price_paise: game.single_slot_price_paise, hold_expires_at: holdExpiresAt.toISOString(),
          held_by_vendor_id: heldByVendor(request.actor, request.userId),
        },
      });
    }
  }

  // Write, and answer.
  const events: BookingEvent[] = [];
  if (taken.length > 0) {
    const ids = await insertBookings(trx, taken.map((t) => t.row), taken.map((t) => t.change));
    const byRequest = new Map<number, Array<{ slot_id: number; booking_id: number }>>();
    taken.forEach(({ index, change, row }, position) => {
      byRequest.set(index, [...(byRequest.get(index) ?? []), { slot_id: row.slot_id, booking_id: ids[position] }]);
      const booking = { ...row, id: ids[position] };
      events.push(slotPending(booking, change.availableAfter), bookingUpdated(booking, 'pending_verified'));
    });
    for (const [index, bookings] of byRequest) outcomes[index] = frozenAnswer(bookings, holdExpiresAt);
  }
  return { outcomes: outcomes as Outcome[], events };
}

/** Why a request cannot be held against the locked inventory and the counted holds, or null (and its units counted). */
function decide(request: HoldRequest, unholdable: number[], inventory: LockedInventory, pendingHolds: Map<string, number>, limits: HoldLimits): Outcome | null {
  const refused = request.slotIds.filter((slotId) => unholdable.includes(slotId) || inventory.available(slotId, request.bookDate) < 1);
  if (refused.length > 0) return slotUnavailable(refused);
  const key = allowanceKey(request.userId, heldByVendor(request.actor, request.userId));
  const pending = pendingHolds.get(key) ?? 0;
  if (pending + request.slotIds.length > limits.maxPendingHoldsPerUser) {
    return {
      status: 409,
      body: new Conflict('hold_limit', `At most ${limits.maxPendingHoldsPerUser} pending holds per user`, {
        pending_holds: pending, max_pending_holds: limits.maxPendingHoldsPerUser,
      }).toBody(),
    };
  }
  pendingHolds.set(key, pending + request.slotIds.length);
  return null;
}

interface NewBooking {
  user_id: number;
  vendor_id: number;
  game_id: number;
  slot_id: number;
  book_date: string;
  status: 'pending_verified';
  price_paise: number;
  hold_expires_at: string;
  held_by_vendor_id: number | null;
}

const BOOKING_COLUMNS: Array<keyof NewBooking> = ['user_id', 'vendor_id', 'game_id', 'slot_id', 'book_date', 'status', 'price_paise', 'hold_expires_at', 'held_by_vendor_id'];

/**
 * Inserts the bookings and writes the inventory they take in one statement; returns the new ids
 * in the order of `rows`. Bookings that look alike in every column are interchangeable, so ids
 * are matched to rows by their columns.
 */
async function insertBookings(trx: Transaction, rows: NewBooking[], changes: InventoryChange[]): Promise<number[]> {
  const inserted: Array<NewBooking & { id: number }> = await applyInventory(trx, changes, {
    sql: `INSERT INTO bookings (${BOOKING_COLUMNS.join(', ')})
          SELECT ${BOOKING_COLUMNS.map((c) => `b.${c}`).join(', ')} FROM json_populate_recordset(NULL::bookings, ?::json) AS b
          RETURNING id, ${BOOKING_COLUMNS.join(', ')}`,
    bindings: [JSON.stringify(rows)],
  });
  const signature = (row: NewBooking) => `${row.user_id}:${row.slot_id}:${row.book_date}:${row.held_by_vendor_id ?? ''}`;
  const idsBySignature = new Map<string, number[]>();
  for (const row of inserted) idsBySignature.set(signature(row), [...(idsBySignature.get(signature(row)) ?? []), row.id]);
  return rows.map((row) => {
    const id = idsBySignature.get(signature(row))?.shift();
    if (id === undefined) throw new Error(`booking ${signature(row)} was not inserted`);
    return id;
  });
}
