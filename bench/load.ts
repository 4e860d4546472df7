import http from 'http';
import { performance } from 'perf_hooks';

// A closed-loop load generator: `concurrency` loops, each starting its next attempt as soon as the
// previous one answered. Kept light on purpose (plain http.request over a keep-alive agent, no
// per-request allocations beyond the body), because it shares two cores with everything it loads.

/** One attempt, already prepared (body built, token signed): only running it is timed. */
export type Attempt = () => Promise<string>;

export const OK = 'ok';

export interface Phase {
  concurrency: number;
  warmUpMs: number;
  measureMs: number;
}

export interface LoadResult {
  /** Successful attempts that ended inside the measured window, per second. */
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  measured: number;
  /** Outcomes other than OK that ended inside the measured window, by outcome. */
  errors: Map<string, number>;
  /** Successful attempts over the whole run (warm-up and drain included), for the bookings count. */
  okTotal: number;
}

export function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

export async function closedLoop(prepare: () => Attempt, phase: Phase): Promise<LoadResult> {
  const started = performance.now();
  const measureFrom = started + phase.warmUpMs;
  const measureTo = measureFrom + phase.measureMs;
  let latencies = new Float64Array(1 << 16);
  let measured = 0;
  let okInWindow = 0;
  let okTotal = 0;
  const errors = new Map<string, number>();

  const loop = async () => {
    while (performance.now() < measureTo) {
      const attempt = prepare();
      const begin = performance.now();
      let outcome: string;
      try {
        outcome = await attempt();
      } catch (error) {
        outcome = `error ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
      }
      const end = performance.now();
      if (outcome === OK) okTotal++;
      if (end < measureFrom || end >= measureTo) continue;
      if (outcome !== OK) {
        errors.set(outcome, (errors.get(outcome) ?? 0) + 1);
        continue;
      }
      okInWindow++;
      if (measured === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[measured++] = end - begin;
    }
  };
  await Promise.all(Array.from({ length: phase.concurrency }, loop));

  const sorted = latencies.slice(0, measured).sort();
  return {
    perSecond: okInWindow / (phase.measureMs / 1000),
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    measured,
    errors,
    okTotal,
  };
}

export interface HttpTarget {
  post(path: string, token: string, body: unknown): Promise<{ status: number; body: string }>;
  /** TCP connections opened so far: with keep-alive this stays at the concurrency. */
  connectionsOpened(): number;
  close(): void;
}

export function httpTarget(port: number, maxSockets: number): HttpTarget {
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  let opened = 0;
  return {
    post(path, token, body) {
      const data = JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const request = http.request({
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(data),
            authorization: `Bearer ${token}`,
          },
        }, (response) => {
          if (!request.reusedSocket) opened++;
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => { text += chunk; });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
          response.on('error', reject);
        });
        request.on('error', reject);
        request.end(data);
      });
    },
    connectionsOpened: () => opened,
    close: () => agent.destroy(),
  };
}

/** Exactly `total` attempts, `concurrency` at a time: how many ended in each outcome. */
export async function fixedCount(prepare: () => Attempt, total: number, concurrency: number): Promise<Map<string, number>> {
  const outcomes = new Map<string, number>();
  let started = 0;
  const loop = async () => {
    while (started < total) {
      started++;
      let outcome: string;
      try {
        outcome = await prepare()();
      } catch (error) {
        outcome = `error ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return outcomes;
}
