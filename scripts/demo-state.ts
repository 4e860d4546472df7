// Where one `npm start` keeps its state, and the lock that keeps a second one from taking it over.
// The demo on the default port keeps its files in .demo/ (where `npm run pay` and the README look);
// a demo on another port in .demo/<PORT>/, so two demos of one checkout run side by side, each
// with its own tokens, runtime.env, database and Redis prefix. DEMO_DIR names another directory.
import fs from 'fs';
import path from 'path';
import { parseEnv } from 'util';
import { commandOf } from './dev-services';

export const DEFAULT_PORT = 3000;

export interface DemoState {
  dir: string;
  runtimeEnvFile: string;
  tokensFile: string;
  foremanPidFile: string;
  /** Held while a demo runs: its pid and what it claims (ports, Redis prefix, database). */
  lockFile: string;
}

export function demoState(root: string, port: number, configuredDir?: string): DemoState {
  const dir = configuredDir
    ? path.resolve(root, configuredDir)
    : port === DEFAULT_PORT ? path.join(root, '.demo') : path.join(root, '.demo', String(port));
  return {
    dir,
    runtimeEnvFile: path.join(dir, 'runtime.env'),
    tokensFile: path.join(dir, 'tokens.env'),
    foremanPidFile: path.join(dir, 'foreman.pid'),
    lockFile: path.join(dir, 'demo.lock'),
  };
}

/** What a running demo holds, as its lock file says. */
export interface RunningDemo {
  pid: number;
  dir: string;
  claims: Record<string, string>;
}

function readLock(lockFile: string): RunningDemo | null {
  let claims: Record<string, string>;
  try {
    claims = parseEnv(fs.readFileSync(lockFile, 'utf8')) as Record<string, string>;
  } catch {
    return null;
  }
  const pid = Number(claims.PID);
  // A pid the system gave to some other program since is no demo.
  if (!commandOf(pid).includes('demo.ts')) return null;
  return { pid, dir: path.dirname(lockFile), claims };
}

function writeLock(lockFile: string, claims: Record<string, string>, flag: 'w' | 'wx'): void {
  const body = Object.entries({ PID: String(process.pid), ...claims }).map(([name, value]) => `${name}=${value}`).join('\n');
  fs.writeFileSync(lockFile, `# held by the npm start running as PID; removed when it stops\n${body}\n`, { flag, mode: 0o600 });
}

/**
 * Takes the state's lock, or answers the demo that holds it. A lock whose demo is gone (killed
 * outright) is taken over.
 */
export function lockDemoState(state: DemoState, claims: Record<string, string>): RunningDemo | null {
  fs.mkdirSync(state.dir, { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeLock(state.lockFile, claims, 'wx');
      process.once('exit', () => unlockDemoState(state));
      return null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readLock(state.lockFile);
    if (holder && holder.pid !== process.pid) return holder;
    fs.rmSync(state.lockFile, { force: true });
  }
  throw new Error(`cannot take ${state.lockFile}: another npm start keeps taking it`);
}

/** Adds what became known during start-up (the fake's port, the database) to the lock. */
export function updateDemoLock(state: DemoState, claims: Record<string, string>): void {
  const current = readLock(state.lockFile);
  if (current?.pid === process.pid) writeLock(state.lockFile, { ...current.claims, ...claims, PID: String(process.pid) }, 'w');
}

function unlockDemoState(state: DemoState): void {
  try {
    if (Number(parseEnv(fs.readFileSync(state.lockFile, 'utf8')).PID) === process.pid) fs.rmSync(state.lockFile, { force: true });
  } catch {
    // gone already
  }
}

/** Every other demo of this checkout that is running now: .demo/ and .demo/<PORT>/. */
export function otherRunningDemos(root: string): RunningDemo[] {
  const base = path.join(root, '.demo');
  const dirs = [base];
  try {
    for (const entry of fs.readdirSync(base, { withFileTypes: true })) if (entry.isDirectory()) dirs.push(path.join(base, entry.name));
  } catch {
    // no .demo yet
  }
  return dirs
    .map((dir) => readLock(path.join(dir, 'demo.lock')))
    .filter((demo): demo is RunningDemo => demo !== null && demo.pid !== process.pid);
}

export function describeDemo(root: string, demo: RunningDemo): string {
  const api = demo.claims.PORT ? `API http://localhost:${demo.claims.PORT}, ` : '';
  return `pid ${demo.pid}, ${api}state in ${path.relative(root, demo.dir) || '.'}`;
}
