import { ChildProcess, spawnSync } from 'child_process';
import Redis from 'ioredis';
import { launch, terminate } from '../helpers/private-redis';
import { onTestsDone } from '../helpers/resources';

// Attack helpers for the private cluster of startClusterStack: which master serves a key, and a
// restart of one master in place (same port, same nodes file, same bus port, no persistence, so it
// comes back with its slots and without its data), as a crashed master without AOF does.

export function node(port: number): Redis {
  return new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: false });
}

/** `CLUSTER NODES` as the client port of the master serving each slot. */
export async function slotOwners(control: Redis): Promise<(slot: number) => number> {
  const ranges: Array<{ from: number; to: number; port: number }> = [];
  for (const line of String(await control.call('CLUSTER', 'NODES')).trim().split('\n')) {
    const [, address, flags, , , , , , ...slots] = line.split(' ');
    if (!flags.includes('master')) continue;
    const port = Number(address.split('@')[0].split(':')[1]);
    for (const range of slots) {
      const [from, to = from] = range.split('-').map(Number);
      ranges.push({ from, to, port });
    }
  }
  return (slot) => {
    const owner = ranges.find((range) => slot >= range.from && slot <= range.to);
    if (!owner) throw new Error(`no master serves slot ${slot}`);
    return owner.port;
  };
}

/** The client port of the master serving `key`'s slot. */
export async function ownerOfKey(anyPort: number, key: string): Promise<number> {
  const control = node(anyPort);
  try {
    const slot = Number(await control.call('CLUSTER', 'KEYSLOT', key));
    return (await slotOwners(control))(slot);
  } finally {
    control.disconnect();
  }
}

const restarted: ChildProcess[] = [];
onTestsDone(async () => { await Promise.all(restarted.map((child) => terminate(child))); });

export interface DownNode {
  port: number;
  dir: string;
  busPort: number;
  /** Starts it again on the same port with the same nodes file (empty data). */
  start(): Promise<void>;
}

/** Stops one master (SHUTDOWN NOSAVE: no data kept) and returns how to start it again. */
export async function stopMaster(port: number): Promise<DownNode> {
  const control = node(port);
  const dir = ((await control.config('GET', 'dir')) as string[])[1];
  const busPort = Number(((await control.config('GET', 'cluster-port')) as string[])[1]);
  control.disconnect();
  // redis-cli makes the node shut itself down; the child process of the helper then exits.
  spawnSync('redis-cli', ['-p', String(port), 'SHUTDOWN', 'NOSAVE'], { stdio: 'ignore' });
  return {
    port, dir, busPort,
    async start() {
      const child = await launch(port, dir, [
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-port', String(busPort),
        '--cluster-node-timeout', '5000',
      ]);
      restarted.push(child);
    },
  };
}

/** Until every given node says cluster_state:ok. */
export async function clusterOk(ports: number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(ports.map(async (port) => {
      const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
      c.on('error', () => undefined);
      try { return /cluster_state:ok/.test(String(await c.call('CLUSTER', 'INFO'))); } catch { return false; } finally { c.disconnect(); }
    }));
    if (states.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`cluster not ok within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
