import { config } from '../config';
import { Transaction } from './knex';
import { HoldRequest, Outcome, slotUnavailable } from '../domain/booking-types';
import { bookingDay, hasStarted } from '../domain/slot-availability';
import { Conflict, Forbidden, NotFound } from '../errors';
import { applyInventory, BookingEvent, bookingUpdated, InventoryChange, lockInventory, slotPending } from './inventory';
import { claimIdempotency, storeIdempotentAnswer } from './idempotency';

// Holds: all or nothing per request, any number of requests in one transaction. The booking
// worker passes every hold it has waiting for one partition, so a hot slot pays for one
// transaction per batch instead of one per request, while the partition still runs one job at a
// time. Requests are decided in arrival order against the locked inventory, exactly as if they
// had run one after another.

const BOOKING_COLUMNS = ['user_id', 'vendor_id', 'game_id', 'slot_id', 'book_date', 'status', 'price_paise', 'hold_expires_at', 'hold_request_id'];

export interface HoldLimits {
  holdTtlSeconds: number;
  maxPendingHoldsPerUser: number;
}

export const configuredHoldLimits = (): HoldLimits => ({
  holdTtlSeconds: config.holdTtlSeconds,
  maxPendingHoldsPerUser: config.maxPendingHoldsPerUser,
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

interface ExistingBooking {
  id: number;
  slot_id: number;
  hold_request_id: string;
  hold_expires_at: Date;
}

function frozenAnswer(bookings: Array<{ slot_id: number; booking_id: number }>, holdExpiresAt: Date): Outcome {
  return {
    status: 201,
    body: { message: 'Slots frozen', bookings, status: 'pending_verified', hold_expires_at: holdExpiresAt.toISOString() },
  };
}

function frozenAgain(done: ExistingBooking[] | undefined): Outcome | null {
  if (!done) return null;
  const bookings = [...done].sort((a, b) => a.id - b.id).map((b) => ({ slot_id: b.slot_id, booking_id: b.id }));
  return frozenAnswer(bookings, done[0].hold_expires_at);
}

/**
 * `mayHaveRun`: false only when BullMQ says this is the job's first start; otherwise the job may
 * have committed before (a crashed worker, a retry), and its bookings are looked for first.
 */
export async function applyHolds(
  trx: Transaction,
  requests: HoldRequest[],
  limits: HoldLimits,
  options: { now?: Date; mayHaveRun?: boolean } = {},
): Promise<HoldBatchResult> {
  const { now = new Date(), mayHaveRun = true } = options;
  const outcomes: Array<Outcome | undefined> = new Array(requests.length);

  // A job that runs twice (BullMQ is at-least-once) finds the bookings it made the first time.
  const existing: ExistingBooking[] = !mayHaveRun ? [] : await trx('bookings')
    .whereIn('hold_request_id', requests.map((r) => r.requestId))
    .select('id', 'slot_id', 'hold_request_id', 'hold_expires_at');
  const existingByRequest = new Map<string, ExistingBooking[]>();
  for (const booking of existing) {
    existingByRequest.set(booking.hold_request_id, [...(existingByRequest.get(booking.hold_request_id) ?? []), booking]);
  }
  const open: number[] = [];
  // A retry that reached the same batch as its first attempt shares the first attempt's answer.
  const firstIndexOf = new Map<string, number>();
  const repeats: Array<[number, number]> = [];
  for (const [index, request] of requests.entries()) {
    const first = firstIndexOf.get(request.requestId);
    if (first !== undefined) {
      repeats.push([index, first]);
      continue;
    }
    firstIndexOf.set(request.requestId, index);
    // A keyed request's first answer (or a different body under the same key) is in its
    // idempotency record, scoped like the API scopes it: to the caller, not the customer held
    // for. An unkeyed request has a fresh request id, so its bookings tell.
    const earlier = request.idempotency
      ? await claimIdempotency(trx, request.actor.userId, request.idempotency, request.requestId)
      : frozenAgain(existingByRequest.get(request.requestId));
    if (earlier) outcomes[index] = earlier;
    else open.push(index);
  }
  const finish = (events: BookingEvent[]): HoldBatchResult => {
    for (const [index, first] of repeats) outcomes[index] = outcomes[first];
    return { outcomes: outcomes as Outcome[], events };
  };
  if (open.length === 0) return finish([]);
  const pending = open.map((index) => requests[index]);

  // One read for the games, their cafes and the requested slots that belong to them. (Capacity
  // comes from the locked inventory rows: see lockInventory.)
  const rows: Array<GameRow & { slot_id: number | null; start_time: string | null }> = await trx('games as g')
    .join('vendors as v', 'v.id', 'g.vendor_id')
    .leftJoin('slots as s', (join) => {
      join.on('s.game_id', 'g.id').onIn('s.id', [...new Set(pending.flatMap((r) => r.slotIds))]);
    })
    .whereIn('g.id', [...new Set(pending.map((r) => r.gameId))])
    .select('g.id', 'g.vendor_id', 'g.single_slot_price_paise', 'v.timezone', 'v.opening_days', 's.id as slot_id', 's.start_time');
  const gameById = new Map(rows.map((g) => [g.id, g]));
  const slotById = new Map(rows.filter((r) => r.slot_id !== null).map((r) => [r.slot_id!, { game_id: r.id, start_time: r.start_time! }]));

  // Locking the users serialises one user's holds across partitions, so the pending-hold limit
  // holds even when one user holds two games at once. Users before inventory, always in id order.
  const userRows: Array<{ id: number; pending: number }> = (await trx.raw(
    `SELECT u.id,
            (SELECT count(*) FROM bookings b
              WHERE b.user_id = u.id AND b.status = 'pending_verified' AND b.hold_expires_at > ?)::int AS pending
       FROM users u WHERE u.id = ANY(?::int[]) ORDER BY u.id FOR UPDATE OF u`,
    [now, [...new Set(pending.map((r) => r.userId))]],
  )).rows;
  const pendingByUser = new Map(userRows.map((u) => [u.id, u.pending]));

  // First what needs no inventory: a request refused here for its game, cafe or user neither
  // creates nor locks inventory rows. Closed, past and foreign slots are noted, not yet answered,
  // so that the answer names every slot that cannot be held, full ones included.
  const closed = new Map<number, number[]>();
  const refuse = (request: HoldRequest): Outcome | null => {
    const game = gameById.get(request.gameId);
    if (!game) return { status: 404, body: new NotFound('Game').toBody() };
    if (request.actor.role === 'vendor' && request.actor.vendorId !== game.vendor_id) {
      return { status: 403, body: new Forbidden('A cafe may hold slots only at its own cafe').toBody() };
    }
    if (!pendingByUser.has(request.userId)) return { status: 404, body: new NotFound('User').toBody() };
    return null;
  };
  const candidates = open.filter((index) => {
    const request = requests[index];
    outcomes[index] = refuse(request) ?? undefined;
    if (outcomes[index]) return false;
    const day = bookingDay(gameById.get(request.gameId)!, request.bookDate, now);
    closed.set(index, request.slotIds.filter((slotId) => {
      const slot = slotById.get(slotId);
      return !slot || slot.game_id !== request.gameId || !day.open || hasStarted(day, slot.start_time);
    }));
    return true;
  });
  const inventory = await lockInventory(trx, candidates.flatMap((index) => requests[index].slotIds
    .filter((slotId) => !closed.get(index)!.includes(slotId))
    .map((slotId) => ({ slotId, bookDate: requests[index].bookDate }))));

  // Then, in arrival order, what the locked inventory and the users' pending holds allow.
  const holdExpiresAt = new Date(now.getTime() + limits.holdTtlSeconds * 1000);
  const taken: InventoryChange[] = [];
  const newBookings: Array<{ index: number; row: Record<string, unknown> }> = [];
  for (const index of candidates) {
    const request = requests[index];
    const refused = request.slotIds.filter((slotId) => closed.get(index)!.includes(slotId) || inventory.available(slotId, request.bookDate) < 1);
    if (refused.length > 0) {
      outcomes[index] = slotUnavailable(refused);
      continue;
    }
    const pendingHolds = pendingByUser.get(request.userId)!;
    if (pendingHolds + request.slotIds.length > limits.maxPendingHoldsPerUser) {
      outcomes[index] = {
        status: 409,
        body: new Conflict('hold_limit', `At most ${limits.maxPendingHoldsPerUser} pending holds per user`, {
          pending_holds: pendingHolds, max_pending_holds: limits.maxPendingHoldsPerUser,
        }).toBody(),
      };
      continue;
    }
    pendingByUser.set(request.userId, pendingHolds + request.slotIds.length);
    const game = gameById.get(request.gameId)!;
    for (const slotId of request.slotIds) {
      taken.push(inventory.take(slotId, request.bookDate));
      newBookings.push({
        index,
        row: {
          user_id: request.userId, vendor_id: game.vendor_id, game_id: game.id, slot_id: slotId,
          book_date: request.bookDate, status: 'pending_verified', price_paise: game.single_slot_price_paise,
          hold_expires_at: holdExpiresAt, hold_request_id: request.requestId,
        },
      });
    }
  }

  const events: BookingEvent[] = [];
  if (newBookings.length > 0) {
    const inserted: Array<{ id: number; slot_id: number; hold_request_id: string; user_id: number; vendor_id: number; game_id: number; book_date: string }> =
      await applyInventory(trx, taken, {
        sql: `INSERT INTO bookings (${BOOKING_COLUMNS.join(', ')})
              SELECT ${BOOKING_COLUMNS.map((c) => `b.${c}`).join(', ')} FROM json_populate_recordset(NULL::bookings, ?::json) AS b
              RETURNING id, slot_id, hold_request_id, user_id, vendor_id, game_id, book_date`,
        bindings: [JSON.stringify(newBookings.map((b) => b.row))],
      });
    const insertedByRequest = new Map<string, typeof inserted>();
    for (const row of inserted) insertedByRequest.set(row.hold_request_id, [...(insertedByRequest.get(row.hold_request_id) ?? []), row]);
    for (const index of new Set(newBookings.map((b) => b.index))) {
      const rows = insertedByRequest.get(requests[index].requestId)!;
      outcomes[index] = frozenAnswer(rows.map((row) => ({ slot_id: row.slot_id, booking_id: row.id })), holdExpiresAt);
    }
    const availableAfter = new Map(newBookings.map((b, position) => [`${b.row.hold_request_id}:${b.row.slot_id}`, taken[position].availableAfter]));
    for (const row of inserted) {
      events.push(slotPending(row, availableAfter.get(`${row.hold_request_id}:${row.slot_id}`)!), bookingUpdated(row, 'pending_verified'));
    }
  }
  for (const index of open) {
    const request = requests[index];
    if (request.idempotency) await storeIdempotentAnswer(trx, request.actor.userId, request.idempotency, outcomes[index]!);
  }
  return finish(events);
}
