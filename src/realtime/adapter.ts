import type { Namespace } from 'socket.io';
import { RedisAdapter, RedisAdapterOptions } from '@socket.io/redis-adapter';
import { logger } from '../logger';

// The Redis adapter as the realtime process uses it, refusing what a well-behaved emitter never
// sends. Anything that can PUBLISH on the shared Redis reaches these handlers, and the library
// trusts it: an undecodable broadcast throws out of the Redis client's event handler, a request
// of the wrong shape rejects a promise nobody awaits (both end the process), and a decodable
// packet that is not an event (a DISCONNECT, an unknown type) goes out to every socket in its
// rooms, whose clients then drop the connection. Here a bad message is logged and dropped.

const log = logger.child({ component: 'realtime-adapter' });

/** socket.io-parser's EVENT: the only packet type an emitter broadcasts (binary data is re-typed by the encoder). */
const EVENT_PACKET = 2;

/** Event names socket.io keeps for itself; a client would take such a packet for its own connection's. */
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

/** The library's message handlers (private in its typings, called through its Redis listeners). */
interface AdapterHandlers {
  onmessage(pattern: unknown, channel: string | Buffer, message: Buffer): void;
  onrequest(channel: string | Buffer, message: Buffer): Promise<void>;
  onresponse(channel: string | Buffer, message: Buffer): void;
}

/** RedisAdapter's public members (keyof leaves the private ones out) and its handlers, to override them. */
type AdapterClass = new (nsp: Namespace, pubClient: unknown, subClient: unknown, opts?: Partial<RedisAdapterOptions>) =>
  Pick<RedisAdapter, keyof RedisAdapter> & AdapterHandlers;

const isRoomList = (value: unknown): boolean =>
  value === undefined || (Array.isArray(value) && value.every((room) => typeof room === 'string' || typeof room === 'number'));

/** The shape `[uid, packet, opts]` the emitter publishes (@socket.io/redis-emitter `BroadcastOperator.emit`). */
export function isBroadcastMessage(decoded: unknown): boolean {
  if (!Array.isArray(decoded) || decoded.length !== 3) return false;
  const [, packet, opts] = decoded as [unknown, any, any];
  if (packet === null || typeof packet !== 'object' || Array.isArray(packet)) return false;
  if (packet.type !== EVENT_PACKET || (packet.nsp !== undefined && typeof packet.nsp !== 'string')) return false;
  if (!Array.isArray(packet.data) || typeof packet.data[0] !== 'string' || RESERVED_EVENTS.has(packet.data[0])) return false;
  if (packet.id !== undefined) return false; // an ack id would make clients answer a server that never asked
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) return false;
  if (!isRoomList(opts.rooms) || !isRoomList(opts.except)) return false;
  return opts.flags === undefined || (opts.flags !== null && typeof opts.flags === 'object' && !Array.isArray(opts.flags));
}

const describe = (channel: string | Buffer, message: Buffer) => ({ channel: channel.toString(), bytes: message?.length ?? 0 });

class GuardedRedisAdapter extends (RedisAdapter as unknown as AdapterClass) {
  override onmessage(pattern: unknown, channel: string | Buffer, message: Buffer): void {
    try {
      let decoded: unknown;
      try {
        decoded = this.parser.decode(message);
      } catch {
        decoded = undefined;
      }
      if (!isBroadcastMessage(decoded)) {
        log.warn(describe(channel, message), 'dropped a malformed broadcast from Redis');
        return;
      }
      super.onmessage(pattern, channel, message);
    } catch (error) {
      log.warn({ err: error, ...describe(channel, message) }, 'dropped a broadcast from Redis that could not be delivered');
    }
  }

  override async onrequest(channel: string | Buffer, message: Buffer): Promise<void> {
    try {
      await super.onrequest(channel, message);
    } catch (error) {
      log.warn({ err: error, ...describe(channel, message) }, 'dropped a malformed adapter request from Redis');
    }
  }

  override onresponse(channel: string | Buffer, message: Buffer): void {
    try {
      super.onresponse(channel, message);
    } catch (error) {
      log.warn({ err: error, ...describe(channel, message) }, 'dropped a malformed adapter response from Redis');
    }
  }
}

/** Like `createAdapter` of @socket.io/redis-adapter, with every message from Redis checked before it is delivered. */
export function createGuardedAdapter(pubClient: unknown, subClient: unknown, opts: Partial<RedisAdapterOptions>) {
  // socket.io calls this with `new`: a function, not an arrow.
  return function guardedAdapter(nsp: Namespace): RedisAdapter {
    return new GuardedRedisAdapter(nsp, pubClient, subClient, opts) as unknown as RedisAdapter;
  };
}
