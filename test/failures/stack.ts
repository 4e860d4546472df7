import { ChildProcess, spawn } from 'child_process';
import { randomUUID } from 'crypto';
import path from 'path';
import { Knex } from 'knex';
import { createKnex } from '../../src/db/knex';
import { Game, Slot, User, Vendor } from '../../src/db/models';
import { createVendorPartitions } from '../../src/db/vendor-partitions';
import { tokenFor } from '../helpers/api';
import { dateInDays } from '../helpers/fixtures';
import { startPrivatePostgres, PrivatePostgres } from '../helpers/private-postgres';
import { startPrivateRedis, PrivateRedis } from '../helpers/private-redis';
import { startPrivateCluster, PrivateCluster } from '../helpers/private-cluster';
import { onTestsDone } from '../helpers/resources';
import { startWorker, WorkerProcess } from '../helpers/workers';
import { eventually } from '../helpers/bookings';

// The whole service on servers of the test's own: a private PostgreSQL (migrated) and a private
// redis-server, with web, worker and realtime processes started as the Procfile does and pointed
// at them by environment. The failure tests stop, freeze and restart these servers; the shared
// PostgreSQL and Redis of the rest of the suite are never touched. startClusterStack does the same
// on a private Redis Cluster (REDIS_CLUSTER_NODES) instead of a single redis-server.

export interface ServiceProcess {
  child: ChildProcess;
  port: number;
  base: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** Sends `signal` and resolves with how the process ended and how long that took. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export interface Stack extends Services {
  redis: PrivateRedis;
}

export interface ClusterStack extends Services {
  cluster: PrivateCluster;
}

interface Services {
  pg: PrivatePostgres;
  /** The test's own pool on the private database (no bounded waits: it may hold locks on purpose). */
  db: Knex;
  env: Record<string, string>;
  startWeb(extra?: Record<string, string>): Promise<ServiceProcess>;
  startRealtime(extra?: Record<string, string>): Promise<ServiceProcess>;
  startWorker(extra?: Record<string, string>): WorkerProcess;
  close(): Promise<void>;
}

const SRC = path.join(__dirname, '..', '..', 'src');
const running = new Set<ChildProcess>();
onTestsDone(() => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Starts a service script and resolves once it logged `listening` with its port. */
function startService(script: string, listening: string, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(SRC, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => {
    running.delete(child);
    resolve({ code, signal });
  }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not listen within 30 s:\n${output.slice(-2000)}`)), 30_000);
    let listened = false;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 400_000) output = output.slice(-100_000);
      if (listened) return;
      for (const line of output.split('\n')) {
        if (!line.includes(listening)) continue;
        try {
          const { port } = JSON.parse(line);
          clearTimeout(timer);
          listened = true;
          resolve({
            child,
            port,
            base: `http://127.0.0.1:${port}`,
            exited,
            output: () => output,
            async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 20_000) {
              const started = Date.now();
              if (child.exitCode === null && child.signalCode === null) child.kill(signal);
              // A process that does not stop is killed, so the test reports it instead of hanging.
              const kill = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
              const end = await exited;
              clearTimeout(kill);
              return { ...end, ms: Date.now() - started };
            },
          });
          return;
        } catch {
          // a partial line: wait for the rest
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before it listened:\n${output.slice(-2000)}`));
    });
  });
}

export async function startStack(options: { persistentRedis?: boolean; env?: Record<string, string> } = {}): Promise<Stack> {
  const [pg, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis({ persistent: options.persistentRedis })]);
  return { redis, ...await startServices(pg, { REDIS_URL: redis.url() }, redis.stop, options.env) };
}

/** The same stack on a private 3-master Redis Cluster: every process gets REDIS_CLUSTER_NODES. */
export async function startClusterStack(options: { env?: Record<string, string> } = {}): Promise<ClusterStack> {
  const [pg, cluster] = await Promise.all([startPrivatePostgres(), startPrivateCluster()]);
  return { cluster, ...await startServices(pg, { REDIS_CLUSTER_NODES: cluster.nodes }, cluster.stop, options.env) };
}

async function startServices(pg: PrivatePostgres, redisEnv: Record<string, string>, stopRedis: () => Promise<void>, extraEnv?: Record<string, string>): Promise<Services> {
  const databaseUrl = await pg.createDatabase('hfg_failures');
  const db = createKnex(databaseUrl, { boundedWaits: false });
  await db.migrate.latest();
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    ...redisEnv,
    REDIS_KEY_PREFIX: `hfgfail-${randomUUID().slice(0, 8)}`,
    PORT: '0',
    REALTIME_PORT: '0',
    LOG_LEVEL: 'info',
    JOB_LOCK_MS: '1500',
    // The default of SPEC §11, which the outage tests' bounds are made of (the suite's is longer).
    SYNC_WAIT_MS: '5000',
    RATE_LIMIT_USER_PER_MIN: '0',
    RATE_LIMIT_ADDRESS_PER_MIN: '0',
    ...extraEnv,
  };
  delete (env as Record<string, string | undefined>).METRICS_PORT;
  let closed = false;
  // The stack's workers go with it: left running, they kept retrying their private Redis for the
  // rest of the suite (a worker each test), and slowed every later test.
  const workers: WorkerProcess[] = [];
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    await db.destroy().catch(() => undefined);
    await Promise.all([stopRedis(), pg.stop()]);
  };
  onTestsDone(close);
  return {
    pg,
    db,
    env,
    startWeb: (extra = {}) => startService(path.join('http', 'server.ts'), '"web listening"', { ...env, ...extra }),
    startRealtime: (extra = {}) => startService(path.join('realtime', 'server.ts'), '"realtime listening"', { ...env, ...extra }),
    startWorker: (extra = {}) => {
      const worker = startWorker({ ...env, ...extra });
      workers.push(worker);
      return worker;
    },
    close,
  };
}

// ---- fixtures in the private database --------------------------------------------------------

export interface PrivateCafe {
  vendor: Vendor;
  games: Array<{ game: Game; slots: Slot[] }>;
  date: string;
}

/** A cafe with `games` games of `capacity` units and `slots` hourly slots each, and a bookable date. */
export async function makeCafe(db: Knex, options: { games?: number; capacity?: number; slots?: number } = {}): Promise<PrivateCafe> {
  return db.transaction(async (trx) => {
    const vendor = await Vendor.query(trx).insertAndFetch({ cafe_name: `Cafe ${randomUUID().slice(0, 8)}` } as Partial<Vendor>);
    await createVendorPartitions(trx, vendor.id);
    const games = [];
    for (let g = 0; g < (options.games ?? 1); g++) {
      const game = await Game.query(trx).insertAndFetch({
        vendor_id: vendor.id, game_name: `Game ${randomUUID().slice(0, 6)}`, total_slots: options.capacity ?? 3,
        single_slot_price_paise: 50_000, gaming_type_id: null,
      } as Partial<Game>);
      const windows = Array.from({ length: options.slots ?? 8 }, (_, h) => ({
        game_id: game.id, start_time: `${String(h + 10).padStart(2, '0')}:00`, end_time: `${String(h + 11).padStart(2, '0')}:00`,
      }));
      const slots = (await Slot.query(trx).insert(windows).returning('*')) as unknown as Slot[];
      games.push({ game, slots: slots.sort((a, b) => a.start_time.localeCompare(b.start_time)) });
    }
    return { vendor, games, date: dateInDays(4, vendor.timezone) };
  });
}

export async function makeCustomers(db: Knex, count: number): Promise<Array<{ user: User; token: string }>> {
  const users = await Promise.all(Array.from({ length: count }, () => {
    const tag = randomUUID().slice(0, 8);
    return User.query(db).insertAndFetch({ name: `Gamer ${tag}`, email: `gamer-${tag}@example.test`, phone: '+919800000000' } as Partial<User>);
  }));
  return users.map((user) => ({ user, token: tokenFor('user', user.id) }));
}

// ---- HTTP with a bound -----------------------------------------------------------------------

export interface Answer {
  /** The HTTP status, or 'timeout' when no answer came within the bound, 'error' when the connection failed. */
  status: number | 'timeout' | 'error';
  body: any;
  ms: number;
  error?: string;
}

/** One request that never waits longer than `timeoutMs`. */
export async function call(base: string, method: string, urlPath: string, options: {
  token?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number;
} = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const started = Date.now();
  try {
    const response = await fetch(`${base}${urlPath}`, {
      method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 8000),
    });
    const text = await response.text();
    let body: any = text;
    try { body = text ? JSON.parse(text) : undefined; } catch { /* kept as text */ }
    return { status: response.status, body, ms: Date.now() - started };
  } catch (error: any) {
    const timedOut = error?.name === 'TimeoutError' || error?.name === 'AbortError';
    return { status: timedOut ? 'timeout' : 'error', body: undefined, ms: Date.now() - started, error: String(error?.cause ?? error) };
  }
}

/** Polls GET /jobs/:id until the job completed or failed; returns its body. */
export async function jobEnd(base: string, jobId: string, token: string, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: Answer | undefined;
  for (;;) {
    last = await call(base, 'GET', `/jobs/${jobId}`, { token, timeoutMs: 5000 });
    if (last.status === 200 && (last.body.state === 'completed' || last.body.state === 'failed')) return last.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not end within ${timeoutMs} ms: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** eventually() with the longer defaults of a test that restarts servers. */
export function until<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  return eventually(probe, what, timeoutMs, everyMs);
}

// ---- invariants ------------------------------------------------------------------------------

/**
 * SPEC §10 invariant 1 on the private database (the query of test/helpers/bookings.ts
 * assertInventoryMatches): every (slot, date) whose `available` disagrees with capacity minus its
 * live bookings, or that has more live bookings than capacity, or live bookings and no row.
 */
export async function inventoryMismatches(db: Knex): Promise<unknown[]> {
  return (await db.raw(
    `WITH live AS (
       SELECT slot_id, book_date, count(*)::int AS live
         FROM bookings WHERE status IN ('pending_verified', 'confirmed')
        GROUP BY slot_id, book_date
     )
     SELECT coalesce(i.slot_id, l.slot_id) AS slot_id,
            to_char(coalesce(i.book_date, l.book_date), 'YYYY-MM-DD') AS book_date,
            i.capacity, i.available, coalesce(l.live, 0) AS live
       FROM slot_inventory i
       FULL JOIN live l ON l.slot_id = i.slot_id AND l.book_date = i.book_date
      WHERE i.slot_id IS NULL
         OR i.available <> i.capacity - coalesce(l.live, 0)
         OR coalesce(l.live, 0) > i.capacity
      ORDER BY 1, 2`,
  )).rows;
}

/** Booking ids named by a 201 hold answer (synchronous body or a completed job's result). */
export function heldIds(body: any): number[] {
  return (body?.bookings ?? []).map((b: { booking_id: number }) => b.booking_id);
}

/** Duplicate live holds: one user holding the same (slot, date) twice. */
export async function duplicateHolds(db: Knex): Promise<unknown[]> {
  return (await db.raw(
    `SELECT user_id, slot_id, book_date::text, count(*)::int AS n FROM bookings
      WHERE status IN ('pending_verified', 'confirmed') GROUP BY 1, 2, 3 HAVING count(*) > 1`,
  )).rows;
}
