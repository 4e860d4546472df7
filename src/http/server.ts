import { createServer } from 'http';
import { AddressInfo } from 'net';
import { config } from '../config';
import { logger } from '../logger';
import { createApp } from './app';
import { db } from '../db/knex';
import { clientRedis, closeClientRedis } from '../jobs/connection';
import { closeQueues } from '../jobs/queues';
import { jobWaiter } from '../jobs/job-waiter';

const server = createServer(createApp().callback());
server.requestTimeout = 30_000;
server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout

// Connect, and listen for job completions, before the first request arrives.
clientRedis();
jobWaiter.warmUp()
  .catch((error) => logger.warn({ err: error }, 'job ends not subscribed yet; answers fall back to state checks'));
server.listen(config.port, () => logger.info({ port: (server.address() as AddressInfo).port }, 'web listening'));

/** How long a stopping web process keeps accepting requests before it drains. */
const SHUTDOWN_SETTLE_MS = 1000;

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'web shutting down: finishing requests in flight');
  // Requests already on their way when the signal came (a connection the kernel accepted but this
  // process has not read yet, or one in the listen backlog) would be reset by close(), which ends
  // every connection without a parsed request: keep serving for a moment, each answer closing its
  // connection, as the load balancer stops sending here.
  server.on('request', (_request, response) => { response.shouldKeepAlive = false; });
  await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_SETTLE_MS));
  // close() ends the connections idle now; a keep-alive connection whose request is still in
  // flight turns idle once answered and would otherwise stay open for keepAliveTimeout (65 s).
  const drained = new Promise((resolve) => server.close(resolve));
  const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
  // A request waits for its job SYNC_WAIT_MS at most; past that and a margin, stop anyway.
  await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, config.syncWaitMs + 5000).unref())]);
  clearInterval(idleSweep);
  server.closeAllConnections();
  // Every request is answered by now; closing waits on Redis and PostgreSQL, and when one of
  // them is down or frozen, stop anyway.
  const closed = Promise.all([jobWaiter.close(), closeQueues(), closeClientRedis(), db.destroy()]);
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
