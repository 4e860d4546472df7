// A throw-away checkout for `npm start` tests: scripts/, README.md and the package files copied,
// src/, migrations/ and node_modules/ linked. Its .env and .demo/ are its own, so a demo started
// there (and `npm run pay`, which reads .demo/runtime.env beside its script) never touches the
// developer's demo; it gets its own database on the test server and its own Redis prefix.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { ChildProcess, spawn } from 'child_process';
import { parseEnv } from 'util';
import { Client } from 'pg';
import Redis from 'ioredis';
import { adminDatabaseUrl, databaseUrlFor, freePort } from '../../../scripts/test-env';

const ROOT = path.join(__dirname, '..', '..', '..');
const COPIED = ['scripts', 'README.md', 'package.json', 'Procfile', '.env.example', 'tsconfig.json'];
const LINKED = ['src', 'migrations', 'node_modules'];
// The test run's own settings must not leak into the demo: it writes and reads a .env of its own.
const TEST_ONLY = [
  'DATABASE_URL', 'REDIS_KEY_PREFIX', 'PORT', 'REALTIME_PORT', 'JWT_SECRET', 'ADMIN_USER', 'ADMIN_PASSWORD', 'LOG_LEVEL', 'SYNC_WAIT_MS',
  'BOOKING_PARTITIONS', 'RAZORPAY_KEY_ID', 'RAZORPAY_KEY_SECRET', 'RAZORPAY_WEBHOOK_SECRET', 'RAZORPAY_API_BASE', 'RAZORPAY_TIMEOUT_MS',
  'RAZORPAY_FAKE_PORT', 'DEMO_DIR', 'BOOKING_TRACE_FILE', 'HOLD_TTL_SECONDS', 'SWEEP_INTERVAL_MS', 'MAX_PENDING_HOLDS_PER_USER',
];

/** The environment of a developer's shell: this test run's own settings left out. */
export function developerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of TEST_ONLY) delete env[name];
  return env;
}

export interface DemoTree {
  dir: string;
  /** Databases and Redis prefixes the demos of this tree used, dropped by remove(). */
  databases: string[];
  prefixes: string[];
  remove(): Promise<void>;
}

export function createDemoTree(): DemoTree {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hfg-demo-test-'));
  for (const name of COPIED) fs.cpSync(path.join(ROOT, name), path.join(dir, name), { recursive: true });
  for (const name of LINKED) fs.symlinkSync(path.join(ROOT, name), path.join(dir, name));
  const tree: DemoTree = {
    dir,
    databases: [],
    prefixes: [],
    async remove() {
      await dropDatabases(tree.databases);
      await deleteRedisKeys(tree.prefixes);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return tree;
}

async function dropDatabases(names: string[]): Promise<void> {
  if (names.length === 0) return;
  const client = new Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  try {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

async function deleteRedisKeys(prefixes: string[]): Promise<void> {
  if (prefixes.length === 0) return;
  const redis = new Redis(process.env.REDIS_URL!);
  try {
    for (const prefix of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

export interface Demo {
  port: number;
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr), for assertions and for a failure's report. */
  output(): string;
  exited: Promise<number>;
  stop(): Promise<number>;
}

export interface DemoOptions {
  port?: number;
  env?: Record<string, string>;
}

let runs = 0;

/**
 * `npm start` (tsx scripts/demo.ts) in the tree, on free ports unless told, with a database and
 * Redis prefix of its own; `env` values of '' unset a variable (the demo then chooses).
 */
export async function startDemo(tree: DemoTree, options: DemoOptions = {}): Promise<Demo> {
  const port = options.port ?? (await freePort());
  const runId = `${Date.now().toString(36)}_${process.pid}_${runs++}`;
  const database = `hfg_demotest_${runId}`;
  const prefix = `hfgdemotest-${runId}`;
  tree.databases.push(database);
  tree.prefixes.push(prefix);
  const env = developerEnv();
  Object.assign(env, {
    PORT: String(port),
    REALTIME_PORT: String(await freePort()),
    RAZORPAY_FAKE_PORT: String(await freePort()),
    DATABASE_URL: databaseUrlFor(database),
    REDIS_URL: process.env.REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    // The state of the demo in the tree's .demo/ itself, where `npm run pay` and the README look,
    // whatever its port.
    DEMO_DIR: '.demo',
    LOG_LEVEL: 'info',
    ...options.env,
  });
  for (const [name, value] of Object.entries(env)) if (value === '') delete env[name];
  const child = spawn(process.execPath, [path.join(tree.dir, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/demo.ts'], {
    cwd: tree.dir, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 400_000) output = output.slice(-200_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  return {
    port,
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Waits until the demo's API answers /health and its worker has started (a hold needs one). */
export async function waitUntilReady(demo: Demo, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null = null;
  void demo.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== null) throw new Error(`the demo exited (${exitCode}) before it was ready:\n${demo.output().slice(-4000)}`);
    if (demo.output().includes('worker started') && (await answers(`http://127.0.0.1:${demo.port}/health`))) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the demo was not ready within ${timeoutMs} ms:\n${demo.output().slice(-4000)}`);
}

export async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}

export interface CommandResult {
  code: number;
  output: string;
}

/** Runs a command in the tree and collects what it prints; killed after `timeoutMs`. */
export function runInTree(tree: DemoTree, command: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = developerEnv()): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: tree.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

/** The KEY=value lines of an env file the demo wrote. */
export function readEnvFile(file: string): Record<string, string> {
  return parseEnv(fs.readFileSync(file, 'utf8')) as Record<string, string>;
}
