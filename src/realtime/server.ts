import { createServer, IncomingMessage, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { Server, Socket } from 'socket.io';
import { config } from '../config';
import { logger } from '../logger';
import { createWorkerRedis, isCluster, RedisConnection } from '../redis';
import { AuthUser, verifyToken } from '../http/auth';
import { AppError } from '../errors';
import { bodyParser, dateSchema, idSchema, Parser } from '../http/validate';
import { parseCalendarDate } from '../domain/dates';
import { db } from '../db/knex';
import { findGame } from '../db/games';
import { pingDatabase } from '../db/health';
import { withinTime } from '../time-limit';
import { adminRoomFor, bookingsRoomFor, RoomDecision, slotsRoom, slotsRoomFor, vendorRoomFor, withinRoomLimit } from './rooms';
import { realtimeListenerChannel, ServerToClientEvents, socketChannelKey } from './publish';
import { createGuardedAdapter } from './adapter';

// The realtime process (SPEC §9): clients connect here, subscribe to rooms, and receive the events
// workers publish through Redis. The Redis adapter lets any number of these processes run side by
// side; none of them keeps state that another would need.

const log = logger.child({ component: 'realtime' });

interface SocketData {
  user: AuthUser | null;
}

/** The workers' events, and the one the realtime process answers itself. */
interface ServerEvents extends ServerToClientEvents {
  pong_health: (payload: { status: 'ok'; nonce: string | number | null; server_ts: number }) => void;
}

type RealtimeSocket = Socket<Record<string, (...args: any[]) => void>, ServerEvents, Record<string, never>, SocketData>;

export type Ack = { ok: true } | { ok: false; message: string };

const bookingsSubscription = bodyParser<{ user_id: number }>({
  type: 'object',
  properties: { user_id: idSchema },
  required: ['user_id'],
  additionalProperties: false,
});

const slotsSubscription = bodyParser<{ vendor_id: number; game_id: number; date: string }>({
  type: 'object',
  properties: { vendor_id: idSchema, game_id: idSchema, date: dateSchema },
  required: ['vendor_id', 'game_id', 'date'],
  additionalProperties: false,
});

const vendorSubscription = bodyParser<{ vendor_id: number }>({
  type: 'object',
  properties: { vendor_id: idSchema },
  required: ['vendor_id'],
  additionalProperties: false,
});

/** A nonce is whatever the client uses to match a pong to its ping: a short string or a number. */
const healthPing = bodyParser<{ nonce?: string | number }>({
  type: 'object',
  properties: { nonce: { anyOf: [{ type: 'string', maxLength: 200 }, { type: 'number' }] } },
  additionalProperties: false,
});

const adminPayload = bodyParser<Record<string, never>>({ type: 'object', additionalProperties: false });
// connect_admin carries nothing; a client may send `{}` or only its ack callback.
const adminSubscription: Parser<Record<string, never>> = (payload) => adminPayload(payload ?? {});

/**
 * Registers a client→server event (SPEC §9: each is acknowledged with `{ ok: true }` or
 * `{ ok: false, message }`); the last argument, when it is a function, is the client's ack callback.
 */
function onClientEvent<T>(socket: RealtimeSocket, event: string, parse: Parser<T>, handle: (payload: T) => Ack | Promise<Ack>): void {
  socket.on(event, async (...args: unknown[]) => {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (answer: Ack) => void) : null;
    let answer: Ack;
    try {
      answer = await handle(parse(args[0]));
    } catch (error) {
      if (!(error instanceof AppError)) log.error({ err: error, event }, 'client event failed');
      answer = { ok: false, message: error instanceof AppError ? error.message : 'Internal error' };
    }
    log.debug({ socket: socket.id, event, ok: answer.ok }, 'client event');
    ack?.(answer);
  });
}

/** Games known to the cache at most: a game never moves to another cafe, so its answer is kept. */
const GAME_CAFES_KEPT = 10_000;
const gameCafes = new Map<number, number>();

/** The cafe of a game, read from the database once per game (subscriptions are public and may come in floods). */
async function cafeOfGame(gameId: number): Promise<{ vendor_id: number } | undefined> {
  const known = gameCafes.get(gameId);
  if (known !== undefined) return { vendor_id: known };
  const game = await findGame(gameId);
  if (game) {
    if (gameCafes.size >= GAME_CAFES_KEPT) gameCafes.delete(gameCafes.keys().next().value!);
    gameCafes.set(gameId, game.vendor_id);
  }
  return game;
}

/** The rooms a connection joined itself: every socket is also in the room of its own id. */
function joinedRooms(socket: RealtimeSocket): Set<string> {
  const rooms = new Set(socket.rooms);
  rooms.delete(socket.id);
  return rooms;
}

/** A client→server event whose answer is a room to join, within the connection's room limit. */
function onSubscribe<T>(socket: RealtimeSocket, event: string, parse: Parser<T>, decide: (payload: T) => RoomDecision | Promise<RoomDecision>): void {
  onClientEvent(socket, event, parse, async (payload) => {
    const decision = await decide(payload);
    if (!decision.ok) return decision;
    // A socket that went away during the decision's read would be left in the room for good.
    if (!socket.connected) return { ok: false, message: 'Disconnected' };
    // Counted after the decision's await and joined in the same tick: subscriptions racing each
    // other cannot all pass the check before any of them joined.
    const allowed = withinRoomLimit(joinedRooms(socket), decision.room);
    if (!allowed.ok) return allowed;
    void socket.join(decision.room);
    return { ok: true };
  });
}

function registerClientEvents(socket: RealtimeSocket): void {
  const user = socket.data.user;
  onSubscribe(socket, 'subscribe_bookings', bookingsSubscription, ({ user_id }) => bookingsRoomFor(user, user_id));
  onSubscribe(socket, 'subscribe_slots', slotsSubscription, async ({ vendor_id, game_id, date }) => {
    const day = parseCalendarDate(date)!;
    // Refused before the database is asked: a connection at its limit cannot keep it busy.
    const room = withinRoomLimit(joinedRooms(socket), slotsRoom(game_id, day));
    return room.ok ? slotsRoomFor(await cafeOfGame(game_id), vendor_id, game_id, day) : room;
  });
  onSubscribe(socket, 'connect_vendor', vendorSubscription, ({ vendor_id }) => vendorRoomFor(user, vendor_id));
  onSubscribe(socket, 'connect_admin', adminSubscription, () => adminRoomFor(user));
  // The HFG dashboard's bridge reconnects when it hears no pong for 20 s.
  onClientEvent(socket, 'ping_health', (payload) => healthPing(payload ?? {}), ({ nonce }) => {
    socket.emit('pong_health', { status: 'ok', nonce: nonce ?? null, server_ts: Date.now() });
    return { ok: true };
  });
}

/** SPEC §4: a socket lives no longer than the token it was opened with. */
function disconnectWhenTokenExpires(socket: RealtimeSocket): void {
  const user = socket.data.user;
  if (!user) return;
  // setTimeout holds at most ~24.8 days; a longer-lived token is checked again then.
  const check = () => {
    const left = user.expiresAt - Date.now();
    if (left <= 0) {
      socket.disconnect(true);
      return;
    }
    timer = setTimeout(check, Math.min(left, 2 ** 31 - 1));
  };
  let timer: NodeJS.Timeout | undefined;
  check();
  socket.on('disconnect', () => clearTimeout(timer));
}

/** Handshake `auth: { token }` is optional: without it a client may still follow public slot rooms. */
function authenticate(socket: RealtimeSocket, next: (error?: Error) => void): void {
  const token: unknown = socket.handshake.auth?.token;
  if (token === undefined || token === null || token === '') {
    socket.data.user = null;
    return next();
  }
  if (typeof token !== 'string') return next(new Error('auth.token must be a string'));
  try {
    socket.data.user = verifyToken(token);
    next();
  } catch (error) {
    next(new Error(error instanceof AppError ? error.message : 'Invalid token'));
  }
}

export interface RealtimeServer {
  port: number;
  close(): Promise<void>;
}

export async function startRealtimeServer(port = config.realtimePort): Promise<RealtimeServer> {
  const publishing = createWorkerRedis();
  const subscribing = createWorkerRedis();
  for (const [role, connection] of [['pub', publishing], ['sub', subscribing]] as const) {
    connection.on('error', (error) => log.warn({ err: error, connection: role }, 'redis connection error'));
  }

  // Plain HTTP next to socket.io: a health probe for the platform; everything else is 404 JSON.
  const httpServer = createServer((request: IncomingMessage, response: ServerResponse) => {
    const reply = (status: number, body: object) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.url !== '/health') return reply(404, { message: `No route for ${request.method} ${request.url}`, code: 'not_found' });
    // Bounded: these connections retry forever, so a ping to a dead or frozen Redis never fails by itself.
    const probe = (work: () => Promise<unknown>) => work().then(() => 'ok' as const, () => 'down' as const);
    void Promise.all([probe(() => pingDatabase()), probe(() => withinTime(publishing.ping(), HEALTH_WAIT_MS, 'redis ping'))]).then(([database, redis]) => {
      if (database === 'ok' && redis === 'ok') return reply(200, { status: 'ok', db: database, redis });
      const down = [database === 'down' && 'db', redis === 'down' && 'redis'].filter(Boolean).join(', ');
      return reply(503, { status: 'unavailable', code: 'unavailable', message: `Down: ${down}`, db: database, redis });
    });
  });

  // Tokens travel in the handshake payload, never in cookies, so any web origin may connect.
  const io = new Server<Record<string, (...args: any[]) => void>, ServerEvents, Record<string, never>, SocketData>(httpServer, {
    path: '/socket.io',
    cors: { origin: config.corsOrigins },
    serveClient: false,
  });
  io.adapter(createGuardedAdapter(publishing, subscribing, { key: socketChannelKey() }));
  // The adapter subscribed above without waiting; a reply on the same connection proves the
  // subscription is in place, so no event published after start-up is missed. A cluster sends
  // PING to any node, not to its one subscriber connection: there the adapter's own channel is
  // subscribed once more (a no-op for Redis), whose reply comes after the adapter's.
  if (isCluster(subscribing)) await subscribing.subscribe(realtimeListenerChannel());
  else await subscribing.ping();

  io.use(authenticate);
  io.on('connection', (socket) => {
    log.debug({ socket: socket.id, user: socket.data.user }, 'client connected');
    disconnectWhenTokenExpires(socket);
    registerClientEvents(socket);
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const listening = (httpServer.address() as AddressInfo).port;

  let closing: Promise<void> | null = null;
  return {
    port: listening,
    close() {
      closing ??= (async () => {
        await io.close();
        await Promise.all([publishing, subscribing].map((connection) => quitWithin(connection, REDIS_QUIT_WAIT_MS)));
      })();
      return closing;
    },
  };
}

/** How long /health waits for Redis. */
const HEALTH_WAIT_MS = 1500;

/** How long a closing server lets Redis acknowledge QUIT before it drops the connection. */
const REDIS_QUIT_WAIT_MS = 1000;
/**
 * How long a stopping realtime process may take. Its clients are cut at once and reconnect to
 * another process; what can stall is Redis or PostgreSQL not answering.
 */
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * These connections retry forever (createWorkerRedis): QUIT on one whose Redis is down waits in
 * the offline queue for good, and on a frozen Redis it waits for a reply that never comes.
 */
async function quitWithin(connection: RedisConnection, waitMs: number): Promise<void> {
  if (connection.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      connection.quit().catch(() => undefined),
      new Promise((resolve) => { timer = setTimeout(resolve, waitMs); }),
    ]);
    clearTimeout(timer);
  }
  connection.disconnect();
}

if (require.main === module) {
  startRealtimeServer().then(
    (server) => {
      log.info({ port: server.port }, 'realtime listening');
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'realtime shutting down');
        setTimeout(() => {
          log.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'realtime did not stop in time (Redis or PostgreSQL unreachable?); exiting');
          process.exit(1);
        }, SHUTDOWN_GRACE_MS).unref();
        server.close().then(() => db.destroy()).then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    },
    (error) => {
      log.fatal({ err: error }, 'realtime failed to start');
      process.exit(1);
    },
  );
}
