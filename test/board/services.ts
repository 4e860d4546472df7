import { ChildProcess, spawn } from 'child_process';
import path from 'path';
import { eventually } from '../helpers/bookings';
import { onTestsDone } from '../helpers/resources';

// The web and realtime processes as the Procfile runs them, on ports of the test's choosing, so the
// board page is served with the REALTIME_PORT it must find (the in-process API reads the run's
// REALTIME_PORT, which another test run or a demo may be using).

export interface Service {
  url: string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let closerRegistered = false;

/** Starts `src/<entry>` with `env` and waits until `healthPath` on `port` answers 200. */
export async function startService(entry: string, port: number, env: Record<string, string>, healthPath = '/health'): Promise<Service> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', '..', 'src', entry)], {
    env: { ...process.env, LOG_LEVEL: 'warn', HFG_PROCESS: `test-board-${path.basename(path.dirname(entry))}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  if (!closerRegistered) {
    closerRegistered = true;
    onTestsDone(() => Promise.all([...running].map((process) => stopChild(process, 'SIGKILL'))));
  }
  let output = '';
  const keep = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => (await fetch(`${url}${healthPath}`)).status === 200,
    `${entry} on port ${port}`,
    30_000,
    100,
    () => (child.exitCode !== null || child.signalCode !== null ? `${entry} exited (${child.exitCode ?? child.signalCode}):\n${output}` : null),
  );
  return { url, stop: () => stopChild(child, 'SIGTERM') };
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  running.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}
