import { createServer } from 'net';
import { Client } from 'pg';

// Settings the test suite and benchmarks run with, unless the environment already says otherwise.
export const testDefaults: Record<string, string> = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  JWT_SECRET: 'test-secret-that-is-long-enough',
  RAZORPAY_KEY_ID: 'rzp_test_local',
  RAZORPAY_KEY_SECRET: 'test-razorpay-key-secret',
  RAZORPAY_WEBHOOK_SECRET: 'test-razorpay-webhook-secret',
  ADMIN_USER: 'admin',
  ADMIN_PASSWORD: 'admin-password',
  LOG_LEVEL: 'silent',
  // Generous: on a loaded machine a job can outlast the default 5 s, and a test that wants a 202
  // asks for it (Prefer: respond-async).
  SYNC_WAIT_MS: '10000',
  BOOKING_PARTITIONS: '4',
  RAZORPAY_TIMEOUT_MS: '1000',
  // The suite sends thousands of writes from 127.0.0.1; test/http/rate-limits.test.ts starts web
  // processes with small limits of their own.
  RATE_LIMIT_USER_PER_MIN: '0',
  RATE_LIMIT_ADDRESS_PER_MIN: '0',
};

export const adminDatabaseUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs `work` on a connection to the admin database (creating and dropping test databases). */
export async function asAdmin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export function databaseUrlFor(name: string): string {
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A TCP port nothing listens on right now (the kernel's choice), for processes a test or benchmark starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
