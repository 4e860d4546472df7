import { ChildProcess, spawn } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import Redis from 'ioredis';
import { onTestsDone } from './resources';
import { launch, terminate } from './private-redis';
import { freePort } from '../../scripts/test-env';

// A Redis Cluster of a test's (or the bench's) own: three masters without replicas on free
// loopback ports, their node files in one temporary directory, no persistence. The shared Redis on
// 6379 is never touched. Each node's cluster bus gets a free port of its own (`--cluster-port`):
// the default, port + 10000, may be taken or past 65535 for a port the kernel picked.

export interface PrivateCluster {
  /** The masters' client ports. */
  ports: number[];
  /** REDIS_CLUSTER_NODES for the processes: `127.0.0.1:p1,127.0.0.1:p2,…`. */
  nodes: string;
  /** Stops every node and removes the directory (idempotent); also called once every suite has run. */
  stop(): Promise<void>;
}

/** How long the cluster may take to agree on its slots after `redis-cli --cluster create`. */
const READY_WITHIN_MS = 20_000;

async function launchNode(dir: string): Promise<{ port: number; child: ChildProcess }> {
  // Another process may take a port between the probe and the server's bind: try a few.
  for (let attempt = 1; ; attempt++) {
    const [port, busPort] = [await freePort(), await freePort()];
    try {
      const child = await launch(port, dir, [
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-port', String(busPort),
        '--cluster-node-timeout', '5000',
      ]);
      return { port, child };
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
}

/** `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`: assigns the slots and joins the nodes. */
function createCluster(ports: number[]): Promise<void> {
  const child = spawn('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create exited ${code}:\n${output.slice(-3000)}`))));
  });
}

/** Resolves once every node reports `cluster_state:ok` and knows all the masters. */
async function untilReady(ports: number[]): Promise<void> {
  const deadline = Date.now() + READY_WITHIN_MS;
  const clients = ports.map((port) => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: true }));
  try {
    for (;;) {
      const states = await Promise.all(clients.map(async (client) => {
        const info = String(await client.call('CLUSTER', 'INFO'));
        return /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${ports.length}\\b`).test(info);
      })).catch(() => [false]);
      if (states.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`the private Redis Cluster on ${ports.join(', ')} was not ok within ${READY_WITHIN_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    clients.forEach((client) => client.disconnect());
  }
}

export async function startPrivateCluster(options: { masters?: number } = {}): Promise<PrivateCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hfg-private-cluster-'));
  const children: ChildProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(children.map((child) => terminate(child)));
    rmSync(dir, { recursive: true, force: true });
  };
  onTestsDone(stop);
  try {
    // One after another: ports probed at once could be handed out twice.
    const ports: number[] = [];
    for (let i = 0; i < (options.masters ?? 3); i++) {
      const node = await launchNode(dir);
      children.push(node.child);
      ports.push(node.port);
    }
    await createCluster(ports);
    await untilReady(ports);
    return { ports, nodes: ports.map((port) => `127.0.0.1:${port}`).join(','), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
