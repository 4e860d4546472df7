import { ChildProcess, spawn } from 'child_process';
import path from 'path';
import { io as connectClient, Socket } from 'socket.io-client';
import { freePort } from '../../scripts/test-env';
import { onTestsDone } from './resources';

// Real socket.io clients for the realtime tests: one way to open them, one way to listen.

/** A client of the realtime server on `port`; not yet connected (see `connected`). */
export function openSocket(port: number, auth: Record<string, unknown> = {}): Socket {
  return connectClient(`http://127.0.0.1:${port}`, { path: '/socket.io', auth, transports: ['websocket'], reconnection: false, forceNew: true });
}

export function connected(client: Socket): Promise<Socket> {
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('connect_error', (error) => reject(error));
  });
}

/**
 * Every server event carries `event_id` and `occurred_at` besides its spec fields; checks them and
 * returns the spec fields, for tests that compare payloads with what a booking change implies.
 */
export function withoutStamp(payload: any): any {
  if (payload === null || typeof payload !== 'object') return payload;
  const { event_id, occurred_at, ...rest } = payload;
  // A bad stamp stays visible in the payload, so the test's comparison fails and shows it.
  if (typeof event_id !== 'string' || !/^[0-9a-f-]{36}$/.test(event_id)) return { ...rest, bad_event_id: event_id ?? null };
  if (typeof occurred_at !== 'string' || Number.isNaN(Date.parse(occurred_at))) return { ...rest, bad_occurred_at: occurred_at ?? null };
  return rest;
}

/** Records every event a client receives (`unstamped`: checked and without their stamp), and waits for particular ones. */
export function recorder(client: Socket, options: { unstamped?: boolean } = {}) {
  const received: Array<{ event: string; payload: any }> = [];
  const waiters: Array<{ matches: (event: string, payload: any) => boolean; resolve: (payload: any) => void }> = [];
  client.onAny((event: string, raw: unknown) => {
    const payload = options.unstamped ? withoutStamp(raw) : raw;
    received.push({ event, payload });
    for (const waiter of waiters.splice(0)) {
      if (waiter.matches(event, payload)) waiter.resolve(payload);
      else waiters.push(waiter);
    }
  });
  return {
    received,
    waitFor(event: string, matches: (payload: any) => boolean = () => true, timeoutMs = 5000): Promise<any> {
      const already = received.find((entry) => entry.event === event && matches(entry.payload));
      if (already) return Promise.resolve(already.payload);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms; got ${JSON.stringify(received)}`)), timeoutMs);
        waiters.push({ matches: (name, payload) => name === event && matches(payload), resolve: (payload) => { clearTimeout(timer); resolve(payload); } });
      });
    },
  };
}

// ---- realtime processes -----------------------------------------------------------------------

export interface RealtimeProcess {
  port: number;
  child: ChildProcess;
  /** Everything the process wrote (its pino lines), for a failing test to show. */
  output(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const realtimeProcesses = new Set<RealtimeProcess>();
let realtimeCloserRegistered = false;

/**
 * A realtime process (src/realtime/server.ts), as the Procfile runs it, on a free port, with this
 * run's environment (the same REDIS_KEY_PREFIX, so it hears this run's workers); resolves once it
 * listens.
 */
export async function startRealtimeProcess(env: Record<string, string> = {}): Promise<RealtimeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', '..', 'src', 'realtime', 'server.ts')], {
    env: { ...process.env, LOG_LEVEL: 'info', HFG_PROCESS: 'test-realtime', REALTIME_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"realtime listening"')) resolve();
      if (output.length > 200_000) output = output.slice(-20_000);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`realtime process exited (${code}) before it listened:\n${output.slice(-2000)}`)));
  });
  const handle: RealtimeProcess = {
    port,
    child,
    output: () => output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      realtimeProcesses.delete(handle);
      return code;
    },
  };
  realtimeProcesses.add(handle);
  if (!realtimeCloserRegistered) {
    realtimeCloserRegistered = true;
    onTestsDone(() => Promise.all([...realtimeProcesses].map((p) => p.stop('SIGKILL'))));
  }
  await listening;
  return handle;
}
