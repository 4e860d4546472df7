import { createServer } from 'http';
import { AddressInfo } from 'net';
import { config } from '../config';
import { logger } from '../logger';
import { createApp } from './app';
import { db } from '../db/knex';
import { clientRedis, closeClientRedis } from '../jobs/connection';
import { bookingQueueNames, closeQueues } from '../jobs/queues';
import { jobWaiter } from '../jobs/job-waiter';

const server = createServer(createApp().callback());
server.requestTimeout = 30_000;
server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout

// Connect, and listen for job completions, before the first request arrives.
clientRedis();
jobWaiter.warmUp(bookingQueueNames())
  .catch((error) => logger.warn({ err: error }, 'job completion readers not ready yet; answers fall back to state checks'));
server.listen(config.port, () => logger.info({ port: (server.address() as AddressInfo).port }, 'web listening'));

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'web shutting down: finishing requests in flight');
  server.closeIdleConnections();
  await new Promise((resolve) => server.close(resolve));
  // Closing waits on Redis and PostgreSQL; when one of them is down, stop anyway.
  const closed = Promise.all([jobWaiter.close(), closeQueues(), closeClientRedis(), db.destroy()]);
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
