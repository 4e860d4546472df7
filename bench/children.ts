import { ChildProcess, spawn } from 'child_process';
import path from 'path';

// The processes a benchmark run starts (API, baseline API, workers). Every one is tracked here so
// that the run can stop exactly the processes it started, on success, failure or Ctrl-C.

const ROOT = path.join(__dirname, '..');
const running = new Set<ChildProcess>();

export interface Child {
  process: ChildProcess;
  /** The last few kilobytes the process printed, for an error message when it dies early. */
  output(): string;
  /** Lines logged at warn level or above (pino JSON), counted over the whole life of the process. */
  problems(): number;
  exited: Promise<number | null>;
}

/** Extra node flags for every child, e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** `node --import tsx <entry>` from the repository root, with the run's environment plus `env`. */
export function startChild(entry: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [...NODE_ARGS, '--import', 'tsx', path.join(ROOT, entry)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  let problems = 0;
  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    problems += text.match(/"level":(40|50|60)\b/g)?.length ?? 0;
    output = (output + text).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    running.delete(child);
    resolve(code);
  }));
  return { process: child, output: () => output, problems: () => problems, exited };
}

/** The latest warnings and errors a child logged that are still in its kept output. */
export function latestProblems(child: Child): string[] {
  return child.output().split('\n').filter((line) => /"level":(40|50|60)\b/.test(line));
}

/** SIGTERM (the processes' own graceful shutdown), then SIGKILL whatever is still there. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Last resort on failure or Ctrl-C: kills every process this run started, by its own pid. */
export function killAllChildren(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}
