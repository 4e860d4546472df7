import { ChildProcess, spawn } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import { onTestsDone } from './resources';
import { freePort } from '../../scripts/test-env';

// A redis-server of a test's own, on a free port, for tests that need Redis to misbehave (ACL
// refusals, a restart that loses every key) without touching the shared Redis on 6379. No
// persistence by default: a restart comes back empty, as a Redis without RDB/AOF does after a crash;
// `persistent: true` keeps an append-only file (fsync always) in the server's own directory, so a
// server stopped with `down()` comes back with `up()` holding every key it had.

export interface PrivateRedis {
  port: number;
  /** `redis://[user:password@]127.0.0.1:port`; without a user, the default user. */
  url(user?: { name: string; password: string }): string;
  /** Stops the server and starts it again on the same port with the same options: every key is gone. */
  restart(): Promise<void>;
  /** Stops the server and keeps its directory (and with `persistent`, its data) for `up()`. */
  down(): Promise<void>;
  /** Starts the server again on the same port and directory after `down()`. */
  up(): Promise<void>;
  /** SIGSTOP: the server freezes, its connections stay open and nothing answers (a hung host). */
  freeze(): void;
  /** SIGCONT after `freeze()`. */
  thaw(): void;
  /** Stops the server (idempotent); also called once every suite has run. */
  stop(): Promise<void>;
}

/** Starts redis-server on `port`; resolves once it accepts connections, rejects if it exits first (also used by private-cluster.ts). */
export function launch(port: number, dir: string, extraArgs: string[], persistent = false): Promise<ChildProcess> {
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '',
    ...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    '--dir', dir, '--daemonize', 'no', '--loglevel', 'notice', ...extraArgs,
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.off('exit', onExit);
        resolve(child);
      }
      if (output.length > 20_000) output = output.slice(-5_000);
    };
    const onExit = (code: number | null) => reject(new Error(`redis-server on port ${port} exited (${code}) before it was ready:\n${output.slice(-2000)}`));
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

export function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  child.kill('SIGCONT'); // a frozen server handles no signal but SIGKILL until it runs again
  return new Promise((resolve) => {
    // With no save points configured, SIGTERM shuts down without writing anything.
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts a private redis-server on a free port. `args` are extra server options, e.g. ACL users:
 * `['--user', 'nopub', 'on', '>pw', '~*', '&*', '+@all', '-publish']`.
 */
export async function startPrivateRedis(options: { args?: string[]; persistent?: boolean } = {}): Promise<PrivateRedis> {
  const extraArgs = options.args ?? [];
  const persistent = options.persistent ?? false;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hfg-private-redis-'));
  let child: ChildProcess | null = null;
  let port = 0;
  // Another process may take the port between the probe and the server's bind: try a few.
  for (let attempt = 1; !child; attempt++) {
    port = await freePort();
    try {
      child = await launch(port, dir, extraArgs, persistent);
    } catch (error) {
      if (attempt >= 5) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  let stopped = false;
  const stop = async () => {
    stopped = true;
    if (child) await terminate(child);
    child = null;
    rmSync(dir, { recursive: true, force: true });
  };
  onTestsDone(stop);

  return {
    port,
    url(user) {
      return user ? `redis://${encodeURIComponent(user.name)}:${encodeURIComponent(user.password)}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`;
    },
    async restart() {
      if (stopped) throw new Error('private redis-server was stopped');
      if (child) await terminate(child);
      child = null;
      child = await launch(port, dir, extraArgs, persistent);
    },
    async down() {
      if (stopped) throw new Error('private redis-server was stopped');
      if (child) await terminate(child);
      child = null;
    },
    async up() {
      if (stopped) throw new Error('private redis-server was stopped');
      if (child) return;
      child = await launch(port, dir, extraArgs, persistent);
    },
    freeze() {
      if (!child) throw new Error('private redis-server is not running');
      child.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    stop,
  };
}
