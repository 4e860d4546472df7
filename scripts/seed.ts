// Demo data for `npm start` (also `tsx scripts/seed.ts`): two cafes with games, slots, consoles and
// gaming types, a few gamers, cafe staff and an admin. Safe to run again and again: everything is
// found by a fixed name first and created only when missing, and what already exists is left as
// it is, so changes made while trying the API survive a restart.
import { Knex } from 'knex';
import { db } from '../src/db/knex';
import { createVendor } from '../src/db/vendors';
import { Console, Game, GamingType, User, Vendor } from '../src/db/models';
import { rupeesToPaise } from '../src/domain/money';
import { formatClockTime, parseClockTime } from '../src/domain/dates';

interface GameSeed {
  game_name: string;
  gaming_type: string;
  total_slots: number;
  price_rupees: number;
  hours: { open: string; close: string; minutes: number };
  consoles: { prefix: string; model_number: string; brand: string; console_type: string; in_maintenance?: number };
}

interface CafeSeed {
  cafe_name: string;
  timezone: string;
  opening_days: string[];
  staff: { name: string; email: string; phone: string };
  games: GameSeed[];
}

const GAMING_TYPES = [
  { name: 'Console', description: 'PlayStation and Xbox stations with a TV and two controllers' },
  { name: 'PC', description: 'Gaming PCs with a high-refresh monitor' },
  { name: 'VR', description: 'Standalone VR headsets in a cleared play area' },
  { name: 'Racing Sim', description: 'Wheel, pedals and bucket seat' },
];

const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

const CAFES: CafeSeed[] = [
  {
    cafe_name: 'Pixel Arena Koramangala',
    timezone: 'Asia/Kolkata',
    opening_days: EVERY_DAY,
    staff: { name: 'Priya Nair (Pixel Arena staff)', email: 'priya@pixelarena.hfg-demo.example', phone: '+919800000101' },
    games: [
      {
        game_name: 'PS5', gaming_type: 'Console', total_slots: 4, price_rupees: 150,
        hours: { open: '10:00', close: '22:00', minutes: 60 },
        consoles: { prefix: 'PS5', model_number: 'PS5', brand: 'Sony', console_type: 'console' },
      },
      {
        game_name: 'High-end PC', gaming_type: 'PC', total_slots: 6, price_rupees: 100,
        hours: { open: '10:00', close: '22:00', minutes: 60 },
        consoles: { prefix: 'PC', model_number: 'RTX 4070 PC', brand: 'Custom', console_type: 'pc', in_maintenance: 1 },
      },
      {
        game_name: 'VR Arena', gaming_type: 'VR', total_slots: 2, price_rupees: 300,
        hours: { open: '12:00', close: '20:00', minutes: 30 },
        consoles: { prefix: 'VR', model_number: 'Meta Quest 3', brand: 'Meta', console_type: 'vr' },
      },
    ],
  },
  {
    cafe_name: 'Respawn Lounge Pune',
    timezone: 'Asia/Kolkata',
    // Closed on Mondays: slot listings for a Monday are empty.
    opening_days: ['tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
    staff: { name: 'Karan Mehta (Respawn staff)', email: 'karan@respawn.hfg-demo.example', phone: '+919800000102' },
    games: [
      {
        game_name: 'FIFA 25 on PS5', gaming_type: 'Console', total_slots: 3, price_rupees: 120,
        hours: { open: '11:00', close: '23:00', minutes: 60 },
        consoles: { prefix: 'PS5', model_number: 'PS5', brand: 'Sony', console_type: 'console' },
      },
      {
        game_name: 'Xbox Series X', gaming_type: 'Console', total_slots: 2, price_rupees: 120,
        hours: { open: '11:00', close: '23:00', minutes: 60 },
        consoles: { prefix: 'XSX', model_number: 'Xbox Series X', brand: 'Microsoft', console_type: 'console' },
      },
      {
        game_name: 'Racing Simulator', gaming_type: 'Racing Sim', total_slots: 1, price_rupees: 250,
        hours: { open: '14:00', close: '22:00', minutes: 30 },
        consoles: { prefix: 'SIM', model_number: 'Fanatec DD Rig', brand: 'Fanatec', console_type: 'simulator' },
      },
    ],
  },
];

const ADMIN = { name: 'HFG Admin', email: 'admin@hfg-demo.example', phone: '+919800000001' };
const GAMERS = [
  { name: 'Asha Rao', email: 'asha@hfg-demo.example', phone: '+919800000201' },
  { name: 'Vikram Singh', email: 'vikram@hfg-demo.example', phone: '+919800000202' },
];

export interface DemoCafe {
  vendor: Vendor;
  staff: User;
  games: Game[];
}

export interface DemoData {
  admin: User;
  gamers: User[];
  cafes: DemoCafe[];
}

function windows({ open, close, minutes }: GameSeed['hours']): Array<{ start_time: string; end_time: string }> {
  const result = [];
  const end = parseClockTime(close)!;
  for (let start = parseClockTime(open)!; start + minutes * 60 <= end; start += minutes * 60) {
    result.push({ start_time: formatClockTime(start), end_time: formatClockTime(start + minutes * 60) });
  }
  return result;
}

async function findOrCreateUser(seed: { name: string; email: string; phone: string }): Promise<User> {
  const existing = await User.query().whereRaw('lower(email) = lower(?)', [seed.email]).first();
  return existing ?? User.query().insertAndFetch(seed);
}

async function findOrCreateGamingType(seed: { name: string; description: string }): Promise<GamingType> {
  const existing = await GamingType.query().whereRaw('lower(name) = lower(?)', [seed.name]).first();
  return existing ?? GamingType.query().insertAndFetch(seed);
}

async function findOrCreateVendor(seed: CafeSeed): Promise<Vendor> {
  const existing = await Vendor.query().where('cafe_name', seed.cafe_name).orderBy('id').first();
  // Through createVendor, so the vendor's dashboard and promo partitions exist like for any cafe.
  return existing ?? createVendor({ cafe_name: seed.cafe_name, timezone: seed.timezone, opening_days: seed.opening_days });
}

/** A game, its slots and its consoles, created together the first time. */
async function findOrCreateGame(vendor: Vendor, seed: GameSeed, gamingTypeId: number): Promise<Game> {
  const existing = await Game.query().where({ vendor_id: vendor.id, game_name: seed.game_name }).orderBy('id').first();
  if (existing) return existing;
  return db.transaction(async (trx: Knex.Transaction) => {
    const game = await Game.query(trx).insertAndFetch({
      vendor_id: vendor.id,
      gaming_type_id: gamingTypeId,
      game_name: seed.game_name,
      total_slots: seed.total_slots,
      single_slot_price_paise: rupeesToPaise(seed.price_rupees),
    });
    await trx('slots').insert(windows(seed.hours).map((window) => ({ game_id: game.id, ...window })));
    for (let number = 1; number <= seed.total_slots; number++) {
      const consoleNumber = `${seed.consoles.prefix}-${String(number).padStart(2, '0')}`;
      const station = await Console.query(trx).insertAndFetch({
        vendor_id: vendor.id,
        console_number: consoleNumber,
        model_number: seed.consoles.model_number,
        brand: seed.consoles.brand,
        console_type: seed.consoles.console_type,
        status: number <= (seed.consoles.in_maintenance ?? 0) ? 'maintenance' : 'available',
      });
      await trx('console_games').insert({ console_id: station.id, game_id: game.id });
    }
    return game;
  });
}

export async function seedDemoData(): Promise<DemoData> {
  const admin = await findOrCreateUser(ADMIN);
  const gamers = [];
  for (const gamer of GAMERS) gamers.push(await findOrCreateUser(gamer));
  const gamingTypes = new Map<string, GamingType>();
  for (const type of GAMING_TYPES) gamingTypes.set(type.name, await findOrCreateGamingType(type));
  const cafes: DemoCafe[] = [];
  for (const cafe of CAFES) {
    const vendor = await findOrCreateVendor(cafe);
    const staff = await findOrCreateUser(cafe.staff);
    const games = [];
    for (const game of cafe.games) games.push(await findOrCreateGame(vendor, game, gamingTypes.get(game.gaming_type)!.id));
    cafes.push({ vendor, staff, games });
  }
  return { admin, gamers, cafes };
}

if (require.main === module) {
  seedDemoData()
    .then((data) => {
      console.log(`admin: user ${data.admin.id}; gamers: users ${data.gamers.map((gamer) => gamer.id).join(', ')}`);
      for (const cafe of data.cafes) {
        console.log(`vendor ${cafe.vendor.id} ${cafe.vendor.cafe_name} (staff user ${cafe.staff.id}): ${cafe.games.map((game) => `game ${game.id} ${game.game_name}`).join(', ')}`);
      }
    })
    .catch((error) => {
      console.error(`seeding failed: ${error.message}`);
      process.exitCode = 1;
    })
    .finally(() => db.destroy());
}
