import { createServer, IncomingMessage, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { Server, Socket } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { config } from '../config';
import { logger } from '../logger';
import { createWorkerRedis } from '../redis';
import { AuthUser, verifyToken } from '../http/auth';
import { AppError } from '../errors';
import { bodyParser, dateSchema, idSchema, Parser } from '../http/validate';
import { parseCalendarDate } from '../domain/dates';
import { adminRoomFor, bookingsRoomFor, RoomDecision, slotsRoomFor, vendorRoomFor } from './rooms';
import { ServerToClientEvents, socketChannelKey } from './publish';

// The realtime process (SPEC §9): clients connect here, subscribe to rooms, and receive the events
// workers publish through Redis. The Redis adapter lets any number of these processes run side by
// side; none of them keeps state that another would need.

const log = logger.child({ component: 'realtime' });

interface SocketData {
  user: AuthUser | null;
}

type RealtimeSocket = Socket<Record<string, (...args: any[]) => void>, ServerToClientEvents, Record<string, never>, SocketData>;

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

const adminPayload = bodyParser<Record<string, never>>({ type: 'object', additionalProperties: false });
// connect_admin carries nothing; a client may send `{}` or only its ack callback.
const adminSubscription: Parser<Record<string, never>> = (payload) => adminPayload(payload ?? {});

/**
 * Registers a client→server event whose answer is a room to join; the last argument, when it is a
 * function, is the client's ack callback.
 */
function onSubscribe<T>(socket: RealtimeSocket, event: string, parse: Parser<T>, decide: (payload: T) => RoomDecision): void {
  socket.on(event, (...args: unknown[]) => {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (answer: Ack) => void) : null;
    let answer: Ack;
    try {
      const decision = decide(parse(args[0]));
      if (decision.ok) {
        void socket.join(decision.room);
        answer = { ok: true };
      } else {
        answer = decision;
      }
    } catch (error) {
      if (!(error instanceof AppError)) log.error({ err: error, event }, 'subscription failed');
      answer = { ok: false, message: error instanceof AppError ? error.message : 'Internal error' };
    }
    log.debug({ socket: socket.id, event, ok: answer.ok }, 'subscription');
    ack?.(answer);
  });
}

function registerSubscriptions(socket: RealtimeSocket): void {
  const user = socket.data.user;
  onSubscribe(socket, 'subscribe_bookings', bookingsSubscription, ({ user_id }) => bookingsRoomFor(user, user_id));
  onSubscribe(socket, 'subscribe_slots', slotsSubscription, ({ game_id, date }) => slotsRoomFor(game_id, parseCalendarDate(date)!));
  onSubscribe(socket, 'connect_vendor', vendorSubscription, ({ vendor_id }) => vendorRoomFor(user, vendor_id));
  onSubscribe(socket, 'connect_admin', adminSubscription, () => adminRoomFor(user));
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
    publishing.ping().then(
      () => reply(200, { status: 'ok', redis: 'ok' }),
      () => reply(503, { status: 'unavailable', code: 'unavailable', message: 'Down: redis', redis: 'down' }),
    );
  });

  // Tokens travel in the handshake payload, never in cookies, so any web origin may connect.
  const io = new Server<Record<string, (...args: any[]) => void>, ServerToClientEvents, Record<string, never>, SocketData>(httpServer, {
    path: '/socket.io',
    cors: { origin: config.corsOrigins },
    serveClient: false,
  });
  io.adapter(createAdapter(publishing, subscribing, { key: socketChannelKey() }));
  // The adapter subscribed above without waiting; a reply on the same connection proves the
  // subscription is in place, so no event published after start-up is missed.
  await subscribing.ping();

  io.use(authenticate);
  io.on('connection', (socket) => {
    log.debug({ socket: socket.id, user: socket.data.user }, 'client connected');
    disconnectWhenTokenExpires(socket);
    registerSubscriptions(socket);
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
        await Promise.all([publishing, subscribing].map((connection) => connection.quit().catch(() => connection.disconnect())));
      })();
      return closing;
    },
  };
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
        server.close().then(() => process.exit(0), () => process.exit(1));
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
