import { execFile } from 'child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import { Client } from 'pg';
import { onTestsDone } from './resources';
import { freePort } from '../../scripts/test-env';

// A PostgreSQL server of a test's own (initdb into a temp dir, pg_ctl on a free port), for tests
// that restart or stop PostgreSQL without touching the shared server on 5432. As root, the server
// runs as the `postgres` system user (PostgreSQL refuses to run as root).

export interface PrivatePostgres {
  port: number;
  /** `postgres://postgres@127.0.0.1:port/<database>` (trust authentication, localhost only). */
  url(database?: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl restart -m <mode>`: every session is ended; resolves once the server accepts connections again. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  /** `pg_ctl stop -m <mode>`: the server goes away (connections refused) and keeps its data directory for `up()`. */
  down(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts the server again on the same port and data directory after `down()`; resolves once it accepts connections. */
  up(): Promise<void>;
  /** Stops the server (idempotent); also called once every suite has run. */
  stop(): Promise<void>;
}

const BIN = process.env.TEST_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';

function asServerUser(): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
}

/** Runs a PostgreSQL tool without blocking the event loop (a test's requests keep flowing meanwhile). */
function run(command: string[], what: string): Promise<string> {
  const [file, ...args] = [...asServerUser(), ...command];
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${what} failed (${error.code ?? error.signal}): ${stderr || stdout}`));
      else resolve(stdout);
    });
  });
}

async function acceptsConnections(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hfg-private-pg-'));
  const data = path.join(root, 'data');
  const log = path.join(root, 'server.log');
  if (process.getuid?.() === 0) {
    const { uid, gid } = postgresUser();
    chownSync(root, uid, gid);
  }
  chmodSync(root, 0o700);
  await run([path.join(BIN, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], 'initdb');

  let port = 0;
  const ctl = (args: string[], what: string) => run([path.join(BIN, 'pg_ctl'), '-D', data, '-l', log, ...args], what);
  // Unix socket in the temp dir, TCP on localhost only; fsync off: a test server, throw-away data.
  const start = () => ctl(['-w', '-t', '30', '-o', `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`, 'start'], 'pg_ctl start');
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (error) {
      if (attempt >= 5) {
        rmSync(root, { recursive: true, force: true });
        throw new Error(`${(error as Error).message}\n${existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : ''}`);
      }
    }
  }

  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const serving = async (what: string) => {
    const deadline = Date.now() + 30_000;
    while (!(await acceptsConnections(url()))) {
      if (Date.now() > deadline) throw new Error(`private PostgreSQL on ${port} did not ${what}:\n${readFileSync(log, 'utf8').slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await ctl(['-w', '-t', '30', '-m', 'immediate', 'stop'], 'pg_ctl stop');
    } catch {
      // already down
    }
    rmSync(root, { recursive: true, force: true });
  };
  onTestsDone(stop);

  return {
    port,
    url,
    async createDatabase(name) {
      const client = new Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async restart(mode = 'fast') {
      if (stopped) throw new Error('private PostgreSQL was stopped');
      // pg_ctl restart reuses the options of the last start (postmaster.opts): same port.
      await ctl(['-w', '-t', '30', '-m', mode, 'restart'], 'pg_ctl restart');
      await serving('come back');
    },
    async down(mode = 'fast') {
      if (stopped) throw new Error('private PostgreSQL was stopped');
      await ctl(['-w', '-t', '30', '-m', mode, 'stop'], 'pg_ctl stop');
    },
    async up() {
      if (stopped) throw new Error('private PostgreSQL was stopped');
      // The port stayed free meanwhile unless another process took it: then this start fails loudly.
      await start();
      await serving('start again');
    },
    stop,
  };
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root needs a `postgres` system user to run a private PostgreSQL');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
