import type Redis from 'ioredis';
import { Emitter } from '@socket.io/redis-emitter';
import { config } from '../config';
import { createClientRedis, isCluster, RedisConnection } from '../redis';
import { BookingStatus } from '../db/models';
import { ADMIN_ROOM, slotsRoom, userRoom, vendorRoom } from './rooms';

// What the outbox relay calls after a transaction committed (never before: a client must not see
// a booking that a rollback then erases). Events travel through Redis pub/sub to every realtime
// instance, which delivers them to the sockets in the named rooms (SPEC §9).

export interface BookingUpdated {
  booking_id: number;
  user_id: number;
  vendor_id: number;
  game_id: number;
  slot_id: number;
  book_date: string;
  status: BookingStatus;
}

export interface SlotPending {
  vendor_id: number;
  game_id: number;
  slot_id: number;
  date: string;
  available_slot: number;
  booking_id: number;
}

export interface SlotReleased {
  vendor_id: number;
  game_id: number;
  slot_id: number;
  date: string;
  available_slot: number;
}

export interface ServerToClientEvents {
  booking_updated: (payload: BookingUpdated & EventStamp) => void;
  slot_pending: (payload: SlotPending & EventStamp) => void;
  slot_released: (payload: SlotReleased & EventStamp) => void;
}

/**
 * The pub/sub channel prefix shared by the realtime server's adapter and this emitter. It carries
 * REDIS_KEY_PREFIX because pub/sub ignores the Redis database number: two deployments (or test
 * runs) on one Redis would otherwise receive each other's events.
 */
export function socketChannelKey(prefix = config.redisKeyPrefix): string {
  return `${prefix}:socket.io`;
}

/**
 * The channel every realtime process's adapter subscribes to by name (its request channel of the
 * default namespace; @socket.io/redis-adapter `requestChannel`): its subscriber count is the
 * number of realtime processes listening. Broadcasts themselves reach them through a pattern.
 */
export function realtimeListenerChannel(prefix = config.redisKeyPrefix): string {
  return `${socketChannelKey(prefix)}-request#/#`;
}

/** What every event carries besides its spec fields: clients deduplicate on the id (the outbox relays at least once). */
export interface EventStamp {
  event_id: string;
  occurred_at: string;
}

export type PublishedEvent =
  | { kind: 'booking_updated'; payload: BookingUpdated }
  | { kind: 'slot_pending'; payload: SlotPending }
  | { kind: 'slot_released'; payload: SlotReleased };

let connection: RedisConnection | null = null;
let emitter: Emitter<ServerToClientEvents> | null = null;
/** The replies of the publishes the emitter is making right now (it drops them itself). */
let replies: Array<Promise<unknown>> | null = null;

function events(): Emitter<ServerToClientEvents> {
  if (!emitter) {
    // Several events at once: auto-pipelining sends them in one write. A command that cannot be
    // sent fails after a reconnect attempt instead of waiting forever: the outbox keeps the event.
    const redis = createClientRedis({ enableAutoPipelining: true, maxRetriesPerRequest: 2 });
    redis.on('error', () => undefined); // each publish reports its own failure
    connection = redis;
    const capturing = {
      publish(channel: string, message: string | Buffer) {
        const reply = redis.publish(channel, message);
        if (replies) replies.push(reply);
        else reply.catch(() => undefined);
        return reply;
      },
    };
    emitter = new Emitter<ServerToClientEvents>(capturing as unknown as Redis, { key: socketChannelKey() });
  }
  return emitter;
}

// Payloads are rebuilt field by field so that whatever else a worker's row carries never leaks
// to clients, and the wire shape stays exactly the one in the spec, plus the event's stamp.
function emitOne({ kind, payload }: PublishedEvent, { event_id, occurred_at }: EventStamp): void {
  if (kind === 'booking_updated') {
    const { booking_id, user_id, vendor_id, game_id, slot_id, book_date, status } = payload;
    events()
      .to([userRoom(user_id), vendorRoom(vendor_id), ADMIN_ROOM])
      .emit('booking_updated', { booking_id, user_id, vendor_id, game_id, slot_id, book_date, status, event_id, occurred_at });
  } else if (kind === 'slot_pending') {
    const { vendor_id, game_id, slot_id, date, available_slot, booking_id } = payload;
    events().to(slotsRoom(game_id, date)).emit('slot_pending', { vendor_id, game_id, slot_id, date, available_slot, booking_id, event_id, occurred_at });
  } else {
    const { vendor_id, game_id, slot_id, date, available_slot } = payload;
    events().to(slotsRoom(game_id, date)).emit('slot_released', { vendor_id, game_id, slot_id, date, available_slot, event_id, occurred_at });
  }
}

// On a Redis Cluster events keep to classic pub/sub: a PUBLISH taken by any node is forwarded over
// the cluster bus to every node, so the realtime processes get it wherever their subscriber
// connection is. But its reply counts only the subscribers of the node that took it, so 0 there
// does not mean lost. A 0 reply is then checked against the whole cluster: the realtime processes
// subscribed to realtimeListenerChannel, summed over every node (masters and replicas: ioredis
// puts a cluster's subscriber connection on any of them), asked after the PUBLISH, every time: a
// cached "someone listens" would count events as sent after the last realtime process died, and
// delete them from the outbox unheard. A node that does not answer is left out; if no node that
// answers shows a listener, the events stay in the outbox (at worst sent twice: clients
// deduplicate on event_id). Sharded pub/sub (SPUBLISH) was not taken:
// @socket.io/redis-emitter cannot send it (socketio/socket.io-redis-emitter#127), the sharded
// adapter speaks another wire format than the emitter and src/realtime/adapter.ts checks, and an
// SPUBLISH reply, too, counts the subscribers of one node only.

/** Whether a realtime process is subscribed anywhere in the cluster (its subscriber count over every node that answers). */
async function clusterHasListeners(): Promise<boolean> {
  const cluster = connection;
  if (!cluster || !isCluster(cluster)) return false;
  const channel = realtimeListenerChannel();
  const counts = await Promise.allSettled(cluster.nodes('all').map(async (node) => {
    const [, count] = (await node.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
    return Number(count);
  }));
  return counts.some((count) => count.status === 'fulfilled' && count.value > 0);
}

/**
 * Publishes events to every realtime instance; resolves once Redis handed every one of them to a
 * realtime process, rejects (never throws synchronously, never crashes the process) when Redis
 * refused, is gone, or no realtime process was listening (a PUBLISH that reached no subscriber is
 * lost, so it is not sent; on a cluster, see clusterHasListeners).
 */
export async function publishEvents(stamped: Array<{ event: PublishedEvent; stamp: EventStamp }>): Promise<void> {
  const sent: Array<Promise<unknown>> = [];
  replies = sent;
  try {
    for (const { event, stamp } of stamped) emitOne(event, stamp);
  } finally {
    replies = null;
  }
  const receivers = await Promise.all(sent);
  if (receivers.some((count) => count === 0) && !(await clusterHasListeners())) throw new Error('no realtime process is listening');
}

export async function closePublisher(): Promise<void> {
  const open = connection;
  connection = null;
  emitter = null;
  if (open) await open.quit().catch(() => open.disconnect());
}
