import Redis, { Cluster, RedisOptions } from 'ioredis';
import { config } from './config';

// Every Redis connection of every process is made here: to the one Redis at REDIS_URL, or, when
// REDIS_CLUSTER_NODES is set, to a Redis Cluster. Callers take either (`RedisConnection`).
//
// Never use ioredis `keyPrefix` here: BullMQ does not support it. Queue keys are namespaced by
// BullMQ's own `prefix` (src/jobs/queues.ts) built from REDIS_KEY_PREFIX; on a cluster that
// prefix is a hash tag, so each queue's keys (and its Lua scripts) stay in one slot.

export type RedisConnection = Redis | Cluster;

/** Whether `connection` talks to a Redis Cluster (its replies then speak for one node only: pub/sub counts, PING). */
export function isCluster(connection: RedisConnection): connection is Cluster {
  return (connection as Cluster).isCluster === true;
}

/** Options the Cluster takes itself; all the others apply to each of its node connections. */
const CLUSTER_LEVEL = ['enableOfflineQueue', 'enableReadyCheck', 'enableAutoPipelining', 'lazyConnect'] as const;

/**
 * A connection with `options`, to the one Redis or to the cluster. On a cluster the same options
 * mean the same per command: maxRetriesPerRequest and commandTimeout bound each command on the
 * node connection that carries it, the offline queue and the ready check are the cluster's.
 * The cluster reconnects forever (ioredis' clusterRetryStrategy), as a single connection does.
 */
function connect(options: RedisOptions): RedisConnection {
  const nodes = config.redisClusterNodes;
  if (!nodes) return new Redis(config.redisUrl, options);
  const clusterOptions: Record<string, unknown> = {};
  const nodeOptions: Record<string, unknown> = { ...options };
  for (const name of CLUSTER_LEVEL) {
    if (name in nodeOptions) clusterOptions[name] = nodeOptions[name];
    delete nodeOptions[name];
  }
  return new Cluster(nodes, { ...clusterOptions, redisOptions: nodeOptions });
}

/** For BullMQ workers and blocking commands: retry forever while Redis restarts (BullMQ requires maxRetriesPerRequest: null). */
export function createWorkerRedis(): RedisConnection {
  return connect({ maxRetriesPerRequest: null, enableReadyCheck: true });
}

/**
 * For request paths: fail fast so an HTTP request answers 503 instead of hanging. A Redis that
 * froze (a hung host, a partition) keeps its connection open and never answers, so no reconnect
 * ever fails the command: commandTimeout bounds each command. Never for blocking commands.
 */
export const CLIENT_COMMAND_TIMEOUT_MS = 2000;

export function createClientRedis(options: RedisOptions = {}): RedisConnection {
  return connect({
    maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2000, commandTimeout: CLIENT_COMMAND_TIMEOUT_MS, ...options,
  });
}

/**
 * Calls `listener` each time the connection becomes ready again. A Cluster says 'ready' only when
 * the whole cluster connection comes back, not when one node's connection does (a master that
 * restarted, maybe without its data): each node's own 'ready' is listened to as well.
 */
export function onEveryReady(connection: RedisConnection, listener: () => void): void {
  connection.on('ready', listener);
  if (isCluster(connection)) connection.on('+node', (node: Redis) => node.on('ready', listener));
}
