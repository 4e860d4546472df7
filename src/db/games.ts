import { db, Transaction } from './knex';
import { Game, Slot, Vendor } from './models';
import { AppError, Conflict, NotFound } from '../errors';
import { SlotWindow } from '../domain/slot-times';
import { localNow } from '../domain/dates';

// Games, their daily slots, and capacity changes that must stay consistent with slot_inventory.
// Every change to one game's slots or capacity locks the game row first (SELECT ... FOR UPDATE),
// so two concurrent changes of one game run one after the other and each sees the other's result.

export interface GameWithSlots {
  game: Game;
  slots: Slot[];
}

export interface NewGame {
  game_name: string;
  gaming_type_id: number | null;
  total_slots: number;
  single_slot_price_paise: number;
  slots: SlotWindow[];
}

export interface GameChanges {
  total_slots?: number;
  single_slot_price_paise?: number;
}

async function slotsOf(gameId: number, trx?: Transaction): Promise<Slot[]> {
  return Slot.query(trx).where('game_id', gameId).orderBy('start_time');
}

export async function findGame(gameId: number): Promise<Game | undefined> {
  return Game.query().findById(gameId);
}

/** Creates a game and all its slots, or nothing. The caller has checked the windows do not overlap. */
export async function createGame(vendorId: number, input: NewGame): Promise<GameWithSlots> {
  return db.transaction(async (trx) => {
    const vendor = await Vendor.query(trx).findById(vendorId);
    if (!vendor) throw new NotFound('Vendor');
    if (input.gaming_type_id !== null) {
      // KEY SHARE keeps a concurrent DELETE /gaming-types/:id from removing it before we commit.
      const gamingType = await trx('gaming_types').where('id', input.gaming_type_id).forKeyShare().first('id');
      if (!gamingType) throw new NotFound('Gaming type');
    }
    const game = await Game.query(trx).insertAndFetch({
      vendor_id: vendorId,
      gaming_type_id: input.gaming_type_id,
      game_name: input.game_name,
      total_slots: input.total_slots,
      single_slot_price_paise: input.single_slot_price_paise,
    });
    if (input.slots.length) {
      await Slot.query(trx).insert(input.slots.map((window) => ({ game_id: game.id, ...window })));
    }
    return { game, slots: await slotsOf(game.id, trx) };
  });
}

interface InventoryRow {
  slot_id: number;
  book_date: string;
  capacity: number;
  available: number;
}

/**
 * Changes price and/or capacity. A capacity change is applied to every inventory row of today or
 * later (in the vendor's zone) as a delta, so `available = capacity − held − booked` still holds;
 * it is refused when some future (slot, date) already has more units taken than the new capacity.
 * Past dates keep the capacity they were sold with.
 */
export async function updateGame(gameId: number, changes: GameChanges): Promise<GameWithSlots> {
  return db.transaction(async (trx) => {
    const game = await Game.query(trx).findById(gameId).forUpdate();
    if (!game) throw new NotFound('Game');
    const patch: Partial<Game> & { updated_at?: unknown } = {};
    if (changes.single_slot_price_paise !== undefined) patch.single_slot_price_paise = changes.single_slot_price_paise;
    if (changes.total_slots !== undefined && changes.total_slots !== game.total_slots) {
      await resizeInventory(trx, game, changes.total_slots);
      patch.total_slots = changes.total_slots;
    }
    if (Object.keys(patch).length === 0) return { game, slots: await slotsOf(gameId, trx) };
    patch.updated_at = trx.fn.now();
    const updated = await Game.query(trx).patchAndFetchById(gameId, patch);
    return { game: updated, slots: await slotsOf(gameId, trx) };
  });
}

async function resizeInventory(trx: Transaction, game: Game, newCapacity: number): Promise<void> {
  const vendor = await Vendor.query(trx).findById(game.vendor_id);
  const today = localNow(vendor!.timezone).date;
  // Locks the rows booking workers update, so none of them changes between the check and the update.
  const rows: InventoryRow[] = await trx('slot_inventory')
    .where('game_id', game.id)
    .andWhere('book_date', '>=', today)
    .orderBy(['slot_id', 'book_date']) // the lock order of every booking transaction
    .forUpdate()
    .select('slot_id', 'book_date', 'capacity', 'available');
  const tooFull = rows
    .filter((row) => row.available + (newCapacity - row.capacity) < 0)
    .map((row) => ({ slot_id: row.slot_id, book_date: row.book_date, taken: row.capacity - row.available }));
  if (tooFull.length) {
    throw new Conflict('invalid_state', `Cannot cut capacity to ${newCapacity}: more units are already held or booked on a future date`, {
      total_slots: newCapacity,
      slots: tooFull,
    });
  }
  if (rows.length) {
    await trx('slot_inventory')
      .where('game_id', game.id)
      .andWhere('book_date', '>=', today)
      .update({ available: trx.raw('available + (? - capacity)', [newCapacity]), capacity: newCapacity });
  }
}

/** Adds one slot unless it overlaps an existing slot of the game. */
export async function addSlot(gameId: number, window: SlotWindow): Promise<Slot> {
  return db.transaction(async (trx) => {
    // Two concurrent inserts for one game queue up here, so the overlap check below sees the other's slot.
    const game = await Game.query(trx).findById(gameId).forUpdate();
    if (!game) throw new NotFound('Game');
    const overlapping = await Slot.query(trx)
      .where('game_id', gameId)
      .andWhere('start_time', '<', window.end_time)
      .andWhere('end_time', '>', window.start_time)
      .orderBy('start_time');
    if (overlapping.length) throw slotOverlap(overlapping.map((slot) => slot.id));
    return Slot.query(trx).insertAndFetch({ game_id: gameId, ...window });
  });
}

export function slotOverlap(overlappingSlotIds?: number[]): AppError {
  return new Conflict(
    'duplicate', // SPEC §3's conflict codes; details say which slots it overlaps
    'Slots of one game may not overlap',
    overlappingSlotIds ? { overlapping_slot_ids: overlappingSlotIds } : undefined,
  );
}
