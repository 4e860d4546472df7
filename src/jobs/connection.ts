import Redis from 'ioredis';
import { createClientRedis } from '../redis';

// The API process's shared Redis connection (queues, idempotency waits, health). Lazily opened so
// that importing a module never connects.
let shared: Redis | null = null;

export function clientRedis(): Redis {
  if (!shared) shared = createClientRedis();
  return shared;
}

export async function pingRedis(timeoutMs = 1500): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('redis ping timed out')), timeoutMs);
  });
  try {
    await Promise.race([clientRedis().ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function closeClientRedis(): Promise<void> {
  if (shared) {
    const connection = shared;
    shared = null;
    await connection.quit().catch(() => connection.disconnect());
  }
}
