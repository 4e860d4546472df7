import { logger } from '../logger';
import { db } from '../db/knex';

// The worker process: BullMQ workers for every queue plus the sweeper's job scheduler.
// (Booking processors arrive with the booking engine.)
logger.info('worker started');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'worker shutting down');
  await db.destroy();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
setInterval(() => undefined, 1 << 30);
