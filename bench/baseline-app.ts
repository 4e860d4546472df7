import { createServer } from 'http';
import { randomUUID } from 'crypto';
import { config } from '../src/config';
import { createApp } from '../src/http/app';
import { createRouter } from '../src/http/context';
import { requireActingFor, requireUser } from '../src/http/auth';
import { bodyParser, dateSchema, idSchema } from '../src/http/validate';
import { parseCalendarDate } from '../src/domain/dates';
import { createKnex, db } from '../src/db/knex';
import { applyHolds } from '../src/db/holds';
import { actorOf } from '../src/http/job-response';
import { publishEvents } from '../src/workers/publish-events';
import { closeClientRedis } from '../src/jobs/connection';
import { closePublisher } from '../src/realtime/publish';

// The benchmark's baseline API process: the real app (same middleware, auth and error mapping)
// plus POST /bench/sync-hold, which takes the body POST /bookings takes and runs the identical
// booking transaction right here, synchronously, with no queue: 32 requests in flight are 32
// transactions contending for the same rows. Never part of the product.

// As many connections as requests in flight, like the bare run, so the pool is not what limits it.
const holdsDb = createKnex(config.databaseUrl, Number(process.env.BENCH_SYNC_POOL ?? 40));

interface HoldBody {
  slot_id: number | number[];
  user_id: number;
  game_id: number;
  book_date: string;
}
// The schema of POST /bookings (src/http/routes/bookings.ts), so validation costs the same.
const holdBody = bodyParser<HoldBody>({
  type: 'object',
  properties: {
    slot_id: {
      anyOf: [idSchema, { type: 'array', items: idSchema, minItems: 1, maxItems: config.maxSlotsPerBooking, uniqueItems: true }],
    },
    user_id: idSchema,
    game_id: idSchema,
    book_date: dateSchema,
  },
  required: ['slot_id', 'user_id', 'game_id', 'book_date'],
  additionalProperties: false,
});

const benchRouter = createRouter();
benchRouter.post('/bench/sync-hold', async (ctx) => {
  const user = requireUser(ctx.state.user);
  const body = holdBody(ctx.request.body);
  requireActingFor(user, body.user_id);
  const request = {
    requestId: randomUUID(),
    actor: actorOf(user),
    userId: body.user_id,
    gameId: body.game_id,
    bookDate: parseCalendarDate(body.book_date)!,
    slotIds: Array.isArray(body.slot_id) ? body.slot_id : [body.slot_id],
  };
  const { outcomes, events } = await holdsDb.transaction((trx) => applyHolds(trx, [request], {
    holdTtlSeconds: config.holdTtlSeconds,
    maxPendingHoldsPerUser: config.maxPendingHoldsPerUser,
  }, { mayHaveRun: false }));
  // As the worker does: events only after the commit.
  publishEvents(events);
  ctx.status = outcomes[0].status;
  ctx.body = outcomes[0].body;
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
