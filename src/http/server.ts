import { createServer } from 'http';
import { config } from '../config';
import { logger } from '../logger';
import { createApp } from './app';
import { db } from '../db/knex';
import { closeClientRedis } from '../jobs/connection';

const server = createServer(createApp().callback());
server.requestTimeout = 30_000;
server.listen(config.port, () => logger.info({ port: config.port }, 'web listening'));

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'web shutting down');
  server.close();
  server.closeIdleConnections();
  await closeClientRedis();
  await db.destroy();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
