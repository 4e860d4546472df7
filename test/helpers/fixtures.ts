import { randomUUID } from 'crypto';
import { db } from '../../src/db/knex';
import { createVendor } from '../../src/db/vendors';
import { Game, Slot, User, Vendor } from '../../src/db/models';
import { localNow } from '../../src/domain/dates';

// Each test builds its own cafe, games and users, so suites run in any order on any data.

export async function makeUser(overrides: Partial<Pick<User, 'name' | 'email' | 'phone'>> = {}): Promise<User> {
  const tag = randomUUID().slice(0, 8);
  return User.query().insertAndFetch({
    name: overrides.name ?? `Gamer ${tag}`,
    email: overrides.email ?? `gamer-${tag}@example.test`,
    phone: overrides.phone ?? '+919800000000',
  });
}

export async function makeVendor(overrides: { timezone?: string; opening_days?: string[] } = {}): Promise<Vendor> {
  return createVendor({ cafe_name: `Cafe ${randomUUID().slice(0, 8)}`, ...overrides });
}

export interface GameFixture {
  game: Game;
  slots: Slot[];
}

/** A game with the given slot windows (default: 24 one-hour slots, 00:00–24:00 minus the last). */
export async function makeGame(
  vendorId: number,
  options: { total_slots?: number; price_rupees?: number; slots?: Array<[string, string]>; game_name?: string } = {},
): Promise<GameFixture> {
  const windows = options.slots ?? Array.from({ length: 23 }, (_, h) => [
    `${String(h).padStart(2, '0')}:00`, `${String(h + 1).padStart(2, '0')}:00`,
  ] as [string, string]);
  return db.transaction(async (trx) => {
    const game = await Game.query(trx).insertAndFetch({
      vendor_id: vendorId,
      game_name: options.game_name ?? `Game ${randomUUID().slice(0, 6)}`,
      total_slots: options.total_slots ?? 3,
      single_slot_price_paise: (options.price_rupees ?? 500) * 100,
      gaming_type_id: null,
    });
    const slots = windows.length
      ? await Slot.query(trx).insert(windows.map(([start_time, end_time]) => ({ game_id: game.id, start_time, end_time }))).returning('*')
      : [];
    return { game, slots: (slots as Slot[]).sort((a, b) => a.start_time.localeCompare(b.start_time)) };
  });
}

/** A calendar date `days` after today in `zone` (YYYY-MM-DD). */
export function dateInDays(days: number, zone = 'Asia/Kolkata'): string {
  const today = localNow(zone).date;
  const [y, m, d] = today.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}
