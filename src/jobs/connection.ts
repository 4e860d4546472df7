import { createClientRedis, isCluster, RedisConnection } from '../redis';
import { Unavailable } from '../errors';
import { withinTime } from '../time-limit';

// The API process's shared Redis connection (queues, idempotency waits, health). Lazily opened so
// that importing a module never connects.
let shared: RedisConnection | null = null;

export function clientRedis(): RedisConnection {
  if (!shared) shared = createClientRedis();
  return shared;
}

/**
 * Resolves once the shared connection is ready, or throws Unavailable after `timeoutMs`. BullMQ
 * waits for a connection that never became ready for as long as it takes; a request must not.
 * (Commands on a connection that was ready fail by themselves: maxRetriesPerRequest.)
 */
export async function requireRedisReady(timeoutMs = 1000): Promise<void> {
  const redis = clientRedis();
  if (redis.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  const ready = await new Promise<boolean>((resolve) => {
    onReady = () => resolve(true);
    redis.once('ready', onReady);
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  clearTimeout(timer);
  redis.off('ready', onReady!);
  if (!ready) throw new Unavailable('The job queue (Redis) is unavailable; try again');
}

/**
 * Whether Redis answers. A PING carries no key, so a cluster sends it to any live node, which
 * answers while the cluster refuses every write (a master down): there the cluster's own state is asked.
 */
export function pingRedis(timeoutMs = 1500): Promise<unknown> {
  const redis = clientRedis();
  const probe: Promise<unknown> = isCluster(redis)
    ? redis.cluster('INFO').then((info) => {
      if (!/^cluster_state:ok\b/m.test(String(info))) throw new Error('the Redis Cluster is down');
    })
    : redis.ping();
  return withinTime(probe, timeoutMs, 'redis ping');
}

export async function closeClientRedis(): Promise<void> {
  if (shared) {
    const connection = shared;
    shared = null;
    await connection.quit().catch(() => connection.disconnect());
  }
}
