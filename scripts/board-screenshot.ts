// `npx tsx scripts/board-screenshot.ts [out.png]` (default docs/board.png): a picture of the live
// cafe board for the README. Like `npm test`, it makes a throw-away database and Redis key prefix
// on the local PostgreSQL and Redis, runs web, worker and realtime on free ports, builds a cafe
// through the API and holds slots as gamers would, then photographs the board in headless Chromium
// (a phone-sized view) after one last hold has reached it live. Everything it made is removed.
import { spawnSync } from 'child_process';
import path from 'path';
import Redis from 'ioredis';
import { asAdmin as admin, databaseUrlFor, freePort, testDefaults } from './test-env';

const ROOT = path.join(__dirname, '..');
const output = path.resolve(process.argv[2] ?? path.join(ROOT, 'docs', 'board.png'));

const runId = `${Date.now().toString(36)}_${process.pid}`;
const database = `hfg_shot_${runId}`;
Object.assign(process.env, {
  ...testDefaults,
  ...process.env,
  DATABASE_URL: databaseUrlFor(database),
  REDIS_KEY_PREFIX: `hfgshot-${runId}`,
  LOG_LEVEL: 'warn',
});

/** Real zones, one of which is mid-afternoon now: the picture shows slots gone by and slots ahead. */
const ZONES = ['Asia/Kolkata', 'Asia/Dubai', 'Europe/London', 'America/New_York', 'America/Los_Angeles', 'Asia/Tokyo', 'Australia/Sydney', 'Pacific/Honolulu', 'America/Sao_Paulo', 'Europe/Berlin'];

const GAMES = [
  { game_name: 'FIFA 25 (PS5)', total_slots: 4 },
  { game_name: 'Valorant (PC)', total_slots: 6 },
  { game_name: 'VR Arena', total_slots: 2 },
  { game_name: 'Racing Sim', total_slots: 3 },
];

/** [game index, slot start hour, units held] */
const HOLDS: Array<[number, number, number]> = [
  [0, 19, 2], [0, 20, 4], [0, 22, 1], [1, 19, 3], [1, 21, 1], [1, 23, 5], [2, 19, 2], [2, 20, 1], [3, 20, 3], [3, 22, 2],
];

async function removeRedisKeys(): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL!);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${process.env.REDIS_KEY_PREFIX}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** Gives up (and cleans up) instead of hanging when a process never comes up. */
const DEADLINE_MS = 120_000;

async function main(): Promise<void> {
  const { launchChromium, waitForStatus, waitForUnits } = await import('../test/board/browser');
  const { startService } = await import('./../test/board/services');
  const { startWorker } = await import('../test/helpers/workers');
  const { closeTestResources } = await import('../test/helpers/resources');
  const { signToken } = await import('../src/http/auth');
  const { localNow } = await import('../src/domain/dates');
  await admin((client) => client.query(`CREATE DATABASE ${database}`));
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    await Promise.race([deadline, photograph()]);
  } finally {
    clearTimeout(timer);
    await browser?.close().catch(() => undefined);
    await closeTestResources(); // the web, realtime and worker processes, and this process's connections
    await admin((client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    await removeRedisKeys();
  }

  async function photograph(): Promise<void> {
    if (spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'migrate.ts')], { stdio: 'inherit', env: process.env }).status !== 0) {
      throw new Error('migrations failed');
    }
    const webPort = await freePort();
    let realtimePort = await freePort();
    while (realtimePort === webPort) realtimePort = await freePort();
    const worker = startWorker(); // it says it is ready at log level info
    const [web] = await Promise.all([
      startService('http/server.ts', webPort, { PORT: String(webPort), REALTIME_PORT: String(realtimePort) }),
      startService('realtime/server.ts', realtimePort, { REALTIME_PORT: String(realtimePort) }),
      worker.ready,
    ]);

    const call = async (method: string, route: string, token: string, body?: unknown): Promise<any> => {
      const response = await fetch(`${web.url}${route}`, {
        method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
      });
      const answer = await response.json();
      if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(answer)}`);
      return answer;
    };
    const adminToken = signToken({ sub: 1, role: 'admin' });
    const hourNow = (zone: string) => Number(localNow(zone).time.slice(0, 2));
    const timezone = ZONES.reduce((best, zone) => (Math.abs(hourNow(zone) - 16) < Math.abs(hourNow(best) - 16) ? zone : best));
    const date = localNow(timezone).date;

    const vendor = await call('POST', '/vendors', adminToken, { cafe_name: 'Pixel Den Gaming Lounge', timezone });
    const games: Array<{ id: number; slots: Array<{ id: number; start_time: string }> }> = [];
    for (const [index, game] of GAMES.entries()) {
      // VR opens later than the rest.
      const hours = { open: index === 2 ? '16:00' : '14:00', close: '24:00', minutes: 60 };
      games.push(await call('POST', `/vendors/${vendor.id}/games`, adminToken, { ...game, single_slot_price: 150, slots: hours }));
    }
    const slotAt = (gameIndex: number, hour: number): number =>
      games[gameIndex].slots.find((slot) => slot.start_time.startsWith(`${String(hour).padStart(2, "0")}:`))!.id;

    let gamers = 0;
    const holdAsNewGamer = async (gameIndex: number, hour: number) => {
      gamers += 1;
      const user = await call('POST', '/users', adminToken, { name: `Gamer ${gamers}`, email: `gamer${gamers}@example.test`, phone: `+9198000${String(gamers).padStart(5, '0')}` });
      const token = signToken({ sub: user.id, role: 'user' });
      await call('POST', '/bookings', token, { slot_id: [slotAt(gameIndex, hour)], game_id: games[gameIndex].id, book_date: date });
    };
    // Holds are taken only where the slot has not started yet.
    const ahead = (hour: number) => hour > hourNow(timezone);
    for (const [gameIndex, hour, units] of HOLDS) {
      if (!ahead(hour)) continue;
      for (let unit = 0; unit < units; unit++) await holdAsNewGamer(gameIndex, hour);
    }

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 414, height: 800 }, deviceScaleFactor: 2, colorScheme: 'light' });
    await page.goto(`${web.url}/board/${vendor.id}`);
    await waitForStatus(page, 'live', 10_000);
    // One more hold, seen arriving live.
    const lastHour = [21, 22, 23].find(ahead);
    if (lastHour !== undefined) {
      const before = Number(await page.locator(`td[data-slot-id="${slotAt(1, lastHour)}"] .left`).textContent());
      await holdAsNewGamer(1, lastHour);
      await waitForUnits(page, slotAt(1, lastHour), before - 1, 10_000);
    }
    await page.waitForTimeout(1500); // the changed cell's highlight fades
    await page.locator('#board').screenshot({ path: output, type: 'png' });
    console.log(`wrote ${path.relative(process.cwd(), output)} (${vendor.cafe_name}, ${date} in ${timezone})`);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
