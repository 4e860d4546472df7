import { db } from './knex';
import { Conflict, NotFound } from '../errors';

// Public catalog reads (SPEC §5.1) and gaming types. Each read is a single SQL statement: these
// endpoints are polled by every client screen, so no per-slot or per-game follow-up queries.

const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

export interface GameSummary {
  id: number;
  game_name: string;
  total_slots: number;
  single_slot_price_paise: number;
}

export interface VendorCalendarRow {
  id: number;
  timezone: string;
  opening_days: string[];
}

const GAME_SUMMARY_COLUMNS = ['g.id', 'g.game_name', 'g.total_slots', 'g.single_slot_price_paise'];

export function listGames(): Promise<GameSummary[]> {
  return db('games as g').select(GAME_SUMMARY_COLUMNS).orderBy('g.id');
}

/** The vendor and its games, or null for an unknown vendor. */
export async function findVendorGames(vendorId: number): Promise<{ vendor: VendorCalendarRow; games: GameSummary[] } | null> {
  const rows = await db('vendors as v')
    .leftJoin('games as g', 'g.vendor_id', 'v.id')
    .where('v.id', vendorId)
    .select('v.timezone', 'v.opening_days', 'g.id', 'g.game_name', 'g.total_slots', 'g.single_slot_price_paise')
    .orderBy('g.id');
  if (rows.length === 0) return null;
  const { timezone, opening_days } = rows[0];
  return {
    vendor: { id: vendorId, timezone, opening_days },
    games: rows.filter((row) => row.id !== null).map(({ id, game_name, total_slots, single_slot_price_paise }) => ({ id, game_name, total_slots, single_slot_price_paise })),
  };
}

export interface ConsoleSummary {
  id: number;
  console_number: string;
  model_number: string;
  brand: string;
  console_type: string;
  status: 'available' | 'in_use' | 'maintenance';
}

/** The vendor's consoles, or null for an unknown vendor. */
export async function findVendorConsoles(vendorId: number): Promise<ConsoleSummary[] | null> {
  const rows = await db('vendors as v')
    .leftJoin('consoles as c', 'c.vendor_id', 'v.id')
    .where('v.id', vendorId)
    .select('c.id', 'c.console_number', 'c.model_number', 'c.brand', 'c.console_type', 'c.status')
    .orderBy('c.id');
  if (rows.length === 0) return null;
  return rows.filter((row) => row.id !== null);
}

export interface SlotListing {
  id: number;
  start_time: string;
  end_time: string;
  gaming_type_id: number | null;
  game_id: number;
}

export function listSlots(filter: { game_id?: number; vendor_id?: number }): Promise<SlotListing[]> {
  return db('slots as s')
    .join('games as g', 'g.id', 's.game_id')
    .modify((query) => {
      if (filter.game_id !== undefined) query.where('s.game_id', filter.game_id);
      if (filter.vendor_id !== undefined) query.where('g.vendor_id', filter.vendor_id);
    })
    .select('s.id', 's.start_time', 's.end_time', 'g.gaming_type_id', 's.game_id')
    .orderBy([{ column: 's.game_id' }, { column: 's.start_time' }]);
}

export interface SlotWithInventory {
  id: number;
  start_time: string;
  end_time: string;
  /** Units left per book_date, for the dates that have a live inventory row. */
  availableByDate: Map<string, number>;
}

export interface GameSlotsWithInventory {
  vendor: VendorCalendarRow;
  game: GameSummary;
  slots: SlotWithInventory[]; // by start time
}

/**
 * A vendor's game with its slots and their live inventory on `dates`, or null when the game is
 * not that vendor's. Inventory rows exist only once a booking worker first held a unit of a
 * (slot, date); without one, the whole capacity is free.
 */
export async function findGameSlotsWithInventory(vendorId: number, gameId: number, dates: string[]): Promise<GameSlotsWithInventory | null> {
  const rows = await db('games as g')
    .join('vendors as v', 'v.id', 'g.vendor_id')
    .leftJoin('slots as s', 's.game_id', 'g.id')
    .leftJoin('slot_inventory as i', function joinInventory() {
      this.on('i.slot_id', 's.id').andOnIn('i.book_date', dates);
    })
    .where({ 'g.id': gameId, 'g.vendor_id': vendorId })
    .select(
      'v.timezone', 'v.opening_days',
      'g.game_name', 'g.total_slots', 'g.single_slot_price_paise',
      's.id as slot_id', 's.start_time', 's.end_time',
      'i.book_date', 'i.available',
    )
    .orderBy([{ column: 's.start_time' }, { column: 's.id' }]);
  if (rows.length === 0) return null;
  const first = rows[0];
  const slots = new Map<number, SlotWithInventory>();
  for (const row of rows) {
    if (row.slot_id === null) continue; // a game without slots still answers, with none
    let slot = slots.get(row.slot_id);
    if (!slot) {
      slot = { id: row.slot_id, start_time: row.start_time, end_time: row.end_time, availableByDate: new Map() };
      slots.set(row.slot_id, slot);
    }
    if (row.book_date !== null) slot.availableByDate.set(row.book_date, row.available);
  }
  return {
    vendor: { id: vendorId, timezone: first.timezone, opening_days: first.opening_days },
    game: { id: gameId, game_name: first.game_name, total_slots: first.total_slots, single_slot_price_paise: first.single_slot_price_paise },
    slots: [...slots.values()],
  };
}

export interface GamingTypeRow {
  id: number;
  name: string;
  description: string;
}

export function listGamingTypes(): Promise<GamingTypeRow[]> {
  return db('gaming_types').select('id', 'name', 'description').orderBy('id');
}

export async function createGamingType(input: { name: string; description: string }): Promise<GamingTypeRow> {
  try {
    const [row] = await db('gaming_types').insert(input).returning(['id', 'name', 'description']);
    return row;
  } catch (error: any) {
    // The case-insensitive unique index decides, so two racing creates cannot both succeed.
    if (error?.code === UNIQUE_VIOLATION) throw new Conflict('duplicate', `A gaming type named "${input.name}" already exists`);
    throw error;
  }
}

export async function deleteGamingType(id: number): Promise<void> {
  let deleted: number;
  try {
    deleted = await db('gaming_types').where({ id }).delete();
  } catch (error: any) {
    // The RESTRICT foreign key from games decides, so a game added mid-delete is still protected.
    if (error?.code === FOREIGN_KEY_VIOLATION) throw new Conflict('invalid_state', 'Gaming type is used by games');
    throw error;
  }
  if (deleted === 0) throw new NotFound('Gaming type');
}
