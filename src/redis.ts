import Redis, { RedisOptions } from 'ioredis';
import { config } from './config';

// Never use ioredis `keyPrefix` here: BullMQ does not support it. Queue keys are namespaced by
// BullMQ's own `prefix` (src/jobs/queues.ts) built from REDIS_KEY_PREFIX.

/** For BullMQ workers and blocking commands: retry forever while Redis restarts. */
export function createWorkerRedis(): Redis {
  return new Redis(config.redisUrl, { maxRetriesPerRequest: null, enableReadyCheck: true });
}

/**
 * For request paths: fail fast so an HTTP request answers 503 instead of hanging. A Redis that
 * froze (a hung host, a partition) keeps its connection open and never answers, so no reconnect
 * ever fails the command: commandTimeout bounds each command. Never for blocking commands.
 */
export const CLIENT_COMMAND_TIMEOUT_MS = 2000;

export function createClientRedis(options: RedisOptions = {}): Redis {
  return new Redis(config.redisUrl, {
    maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2000, commandTimeout: CLIENT_COMMAND_TIMEOUT_MS, ...options,
  });
}
