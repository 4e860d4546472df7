import { ChildProcess, spawn } from 'child_process';
import path from 'path';
import { freePort } from '../../scripts/test-env';
import { onTestsDone } from '../helpers/resources';

// A real web process (src/http/server.ts) with settings of its own (rate limits, METRICS_AUTH),
// for the tests of this folder that the in-process API, built with the suite's settings, cannot show.

export interface WebProcess {
  base: string;
  stop(): Promise<void>;
}

export async function startWeb(env: Record<string, string>): Promise<WebProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', '..', 'src', 'http', 'server.ts')], {
    env: { ...process.env, LOG_LEVEL: 'info', HFG_PROCESS: 'test-web', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
    await exited;
    clearTimeout(timer);
  };
  onTestsDone(stop);
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"web listening"')) resolve();
      if (output.length > 100_000) output = output.slice(-10_000);
    });
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', (code) => reject(new Error(`web exited (${code}) before listening:\n${output.slice(-2000)}`)));
  });
  return { base: `http://127.0.0.1:${port}`, stop };
}

export const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let addressCounter = 0;
/**
 * A client address of its own (the app takes the last X-Forwarded-For entry), so tests never share
 * an address's limit; each `npm test` run has its own Redis key prefix, so runs never share them.
 */
export function freshAddress(): string {
  addressCounter += 1;
  return `10.77.${Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
}
