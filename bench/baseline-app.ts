import { createServer } from 'http';
import { randomUUID } from 'crypto';
import { config } from '../src/config';
import { createApp } from '../src/http/app';
import { createRouter } from '../src/http/context';
import { holdFromRequest } from '../src/http/routes/bookings';
import { createKnex, db } from '../src/db/knex';
import { runBookingTransaction } from '../src/workers/booking';
import { relayAfterCommit } from '../src/workers/relay';
import { closeClientRedis } from '../src/jobs/connection';
import { closePublisher } from '../src/realtime/publish';

// The benchmark's baseline API process: the real app (same middleware, auth and error mapping)
// plus POST /bench/sync-hold, which takes the body POST /bookings takes and runs the identical
// booking transaction right here, synchronously, with no queue: 32 requests in flight are 32
// transactions contending for the same rows; and POST /bench/http-floor, which parses, validates
// and authorizes the same body and answers a hold's shape without any work: the ceiling of any
// path that takes holds over this HTTP API on this machine. Never part of the product.

// As many connections as requests in flight, like the bare run, so the pool is not what limits it.
const holdsDb = createKnex(config.databaseUrl, { poolMax: Number(process.env.BENCH_SYNC_POOL ?? 40) });

const benchRouter = createRouter();
benchRouter.post('/bench/sync-hold', async (ctx) => {
  // The same parsing, validation and authorization as POST /bookings.
  const request = { requestId: randomUUID(), ...holdFromRequest(ctx).hold };
  // The worker's own transaction (ledger, holds, outbox), and its relay after the commit.
  const { outcomes, messages } = await runBookingTransaction('hold', [request], { endpoint: 'POST /bookings', jobIdOf: () => `sync.${request.requestId}.0` }, holdsDb);
  relayAfterCommit(messages);
  ctx.status = outcomes[0].status;
  ctx.body = outcomes[0].body;
});

benchRouter.post('/bench/http-floor', async (ctx) => {
  const { what } = holdFromRequest(ctx);
  ctx.status = 201;
  ctx.body = {
    message: 'Slots frozen', bookings: what.slotIds.map((slotId) => ({ slot_id: slotId, booking_id: 0 })),
    status: 'pending_verified', hold_expires_at: new Date().toISOString(),
  };
});

const app = createApp();
app.use(benchRouter.routes());
const server = createServer(app.callback());
server.listen(config.port);

async function shutdown(): Promise<void> {
  server.close();
  server.closeIdleConnections();
  await closePublisher();
  await closeClientRedis();
  await holdsDb.destroy();
  await db.destroy();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
