import { db } from '../src/db/knex';
import { createVendor } from '../src/db/vendors';
import { localNow } from '../src/domain/dates';

// The benchmark's cafes, games and gamers, written in bulk. Each path (bare, sync, queue) gets its
// own games, so every path starts from the same state and its bookings can be counted apart.

const ZONE = 'Asia/Kolkata';
const VENDORS_PER_SET = 10;
const DATES = [2, 3, 4];
/** 23 hourly slots a day, like the test fixtures' default game. */
const SLOT_WINDOWS = Array.from({ length: 23 }, (_, h) => [`${String(h).padStart(2, '0')}:00`, `${String(h + 1).padStart(2, '0')}:00`]);
/** Never the limit in the timed runs: every hold should succeed, so throughput is of holds made. */
const ROOMY_CAPACITY = 1_000_000;
/** The sell-out check's slot: far more holds are sent than it has units. */
export const SELL_OUT_CAPACITY = 100;

export interface SlotTarget {
  gameId: number;
  bookDate: string;
  slotId: number;
}

export interface FixtureSet {
  name: string;
  gameIds: number[];
  /** Every (game, date, slot) of the many-keys scenario: games × dates slot keys, 23 slots each. */
  manyKeys: SlotTarget[];
  hotSlot: SlotTarget;
  /** A slot with SELL_OUT_CAPACITY units, for the check that contention never oversells. */
  sellOut: SlotTarget;
}

/** A calendar date `days` after today in the vendors' zone, so every slot of it is still ahead. */
function dateInDays(days: number): string {
  const [y, m, d] = localNow(ZONE).date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

async function makeGames(vendorIds: number[], count: number, tag: string, capacity = ROOMY_CAPACITY): Promise<Array<{ gameId: number; slotIds: number[] }>> {
  const games: Array<{ id: number }> = await db('games')
    .insert(Array.from({ length: count }, (_, i) => ({
      vendor_id: vendorIds[i % vendorIds.length],
      game_name: `${tag} game ${i}`,
      total_slots: capacity,
      single_slot_price_paise: 50000,
      gaming_type_id: null,
    })))
    .returning('id');
  const slots: Array<{ id: number; game_id: number }> = await db('slots')
    .insert(games.flatMap((g) => SLOT_WINDOWS.map(([start_time, end_time]) => ({ game_id: g.id, start_time, end_time }))))
    .returning(['id', 'game_id']);
  return games.map((g) => ({ gameId: g.id, slotIds: slots.filter((s) => s.game_id === g.id).map((s) => s.id) }));
}

export async function makeFixtureSet(name: string, manyKeyGames: number): Promise<FixtureSet> {
  const vendorIds: number[] = [];
  for (let i = 0; i < VENDORS_PER_SET; i++) {
    vendorIds.push((await createVendor({ cafe_name: `Bench ${name} cafe ${i}`, timezone: ZONE })).id);
  }
  const dates = DATES.map(dateInDays);
  const many = await makeGames(vendorIds, manyKeyGames, name);
  const [hot] = await makeGames(vendorIds, 1, `${name} hot`);
  const [sellOut] = await makeGames(vendorIds, 1, `${name} sell-out`, SELL_OUT_CAPACITY);
  return {
    name,
    gameIds: [...many.map((g) => g.gameId), hot.gameId, sellOut.gameId],
    manyKeys: many.flatMap((g) => dates.flatMap((bookDate) => g.slotIds.map((slotId) => ({ gameId: g.gameId, bookDate, slotId })))),
    hotSlot: { gameId: hot.gameId, bookDate: dates[0], slotId: hot.slotIds[18] },
    sellOut: { gameId: sellOut.gameId, bookDate: dates[0], slotId: sellOut.slotIds[18] },
  };
}

/**
 * Gamers for the holds, handed out in turn. One gamer per request keeps the per-user lock and the
 * pending-hold limit out of the way, as in production where a hot slot is wanted by many people;
 * after the last one the turn wraps around, which stays under the limit for any realistic run.
 */
export class Gamers {
  private next = 0;
  private constructor(private readonly ids: number[]) {}

  /**
   * `count` new gamers named after `tag` (emails are unique); with `walletPaise`, each with a wallet
   * credited that much (a ledger entry and the balance, as an admin's credit writes them).
   */
  static async create(count: number, { tag = 'gamer', walletPaise = 0 } = {}): Promise<Gamers> {
    return db.transaction(async (trx) => {
      const rows: Array<{ id: number }> = (await trx.raw(
        `INSERT INTO users (name, email, phone)
         SELECT 'Bench ' || ? || ' ' || n, 'bench-' || ? || '-' || n || '@example.test', '+919800000000'
           FROM generate_series(1, ?::int) AS n
         RETURNING id`,
        [tag, tag, count],
      )).rows;
      const ids = rows.map((r) => r.id);
      if (walletPaise > 0) {
        await trx.raw('INSERT INTO wallets (user_id, balance_paise) SELECT unnest(?::int[]), ?', [ids, walletPaise]);
        await trx.raw(`INSERT INTO wallet_ledger (user_id, amount_paise, reason) SELECT unnest(?::int[]), ?, 'bench credit'`, [ids, walletPaise]);
      }
      return new Gamers(ids);
    });
  }

  take(): number {
    const id = this.ids[this.next % this.ids.length];
    this.next++;
    return id;
  }

  get handedOut(): number {
    return this.next;
  }

  get count(): number {
    return this.ids.length;
  }
}
