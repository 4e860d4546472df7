import { createServer } from 'http';
import { config } from '../config';
import { logger } from '../logger';
import { createApp } from './app';
import { db } from '../db/knex';
import { closeClientRedis } from '../jobs/connection';
import { bookingQueueNames, closeQueues } from '../jobs/queues';
import { jobWaiter } from '../jobs/job-waiter';

const server = createServer(createApp().callback());
server.requestTimeout = 30_000;
server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout

// Listen for job completions before the first request, so its answer is heard the moment it lands.
jobWaiter.warmUp(bookingQueueNames())
  .catch((error) => logger.warn({ err: error }, 'job completion readers not ready yet; answers fall back to state checks'));
server.listen(config.port, () => logger.info({ port: config.port }, 'web listening'));

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'web shutting down: finishing requests in flight');
  server.closeIdleConnections();
  await new Promise((resolve) => server.close(resolve));
  await jobWaiter.close();
  await closeQueues();
  await closeClientRedis();
  await db.destroy();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
