import { ChildProcess, spawn } from 'child_process';
import path from 'path';
import { onTestsDone } from './resources';

// Real worker processes (src/workers/main.ts), as the Procfile runs them, started by tests that
// need several of them or need to kill one.

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the process logged that it is ready. */
  ready: Promise<void>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<WorkerProcess>();
let closerRegistered = false;

export function startWorker(env: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', '..', 'src', 'workers', 'main.ts')], {
    env: { ...process.env, LOG_LEVEL: 'info', HFG_PROCESS: 'test-worker', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"worker started"')) resolve();
      if (output.length > 100_000) output = output.slice(-10_000);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${output.slice(-2000)}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const handle: WorkerProcess = {
    child,
    ready,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      running.delete(handle);
      return code;
    },
  };
  ready.catch(() => undefined);
  running.add(handle);
  if (!closerRegistered) {
    closerRegistered = true;
    onTestsDone(() => Promise.all([...running].map((w) => w.stop('SIGKILL'))));
  }
  return handle;
}

/** Starts `count` workers and waits until all are ready. */
export async function startWorkers(count: number, env: Record<string, string> = {}): Promise<WorkerProcess[]> {
  const workers = Array.from({ length: count }, () => startWorker(env));
  await Promise.all(workers.map((w) => w.ready));
  return workers;
}

export async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
}
