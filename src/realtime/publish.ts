import Redis from 'ioredis';
import { Emitter } from '@socket.io/redis-emitter';
import { config } from '../config';
import { createClientRedis } from '../redis';
import { BookingStatus } from '../db/models';
import { ADMIN_ROOM, slotsRoom, userRoom, vendorRoom } from './rooms';

// What workers call after their transaction commits (never before: a client must not see a
// booking that a rollback then erases). Events travel through Redis pub/sub to every realtime
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
  booking_updated: (payload: BookingUpdated) => void;
  slot_pending: (payload: SlotPending) => void;
  slot_released: (payload: SlotReleased) => void;
}

/**
 * The pub/sub channel prefix shared by the realtime server's adapter and this emitter. It carries
 * REDIS_KEY_PREFIX because pub/sub ignores the Redis database number: two deployments (or test
 * runs) on one Redis would otherwise receive each other's events.
 */
export function socketChannelKey(prefix = config.redisKeyPrefix): string {
  return `${prefix}:socket.io`;
}

let connection: Redis | null = null;
let emitter: Emitter<ServerToClientEvents> | null = null;

function events(): Emitter<ServerToClientEvents> {
  if (!emitter) {
    // A job publishes several events at once: auto-pipelining sends them in one write.
    connection = createClientRedis({ enableAutoPipelining: true, maxRetriesPerRequest: null });
    emitter = new Emitter<ServerToClientEvents>(connection, { key: socketChannelKey() });
  }
  return emitter;
}

// Payloads are rebuilt field by field so that whatever else a worker's row carries never leaks
// to clients, and the wire shape stays exactly the one in the spec.

export function publishBookingUpdated(payload: BookingUpdated): void {
  const { booking_id, user_id, vendor_id, game_id, slot_id, book_date, status } = payload;
  events()
    .to([userRoom(user_id), vendorRoom(vendor_id), ADMIN_ROOM])
    .emit('booking_updated', { booking_id, user_id, vendor_id, game_id, slot_id, book_date, status });
}

export function publishSlotPending(payload: SlotPending): void {
  const { vendor_id, game_id, slot_id, date, available_slot, booking_id } = payload;
  events().to(slotsRoom(game_id, date)).emit('slot_pending', { vendor_id, game_id, slot_id, date, available_slot, booking_id });
}

export function publishSlotReleased(payload: SlotReleased): void {
  const { vendor_id, game_id, slot_id, date, available_slot } = payload;
  events().to(slotsRoom(game_id, date)).emit('slot_released', { vendor_id, game_id, slot_id, date, available_slot });
}

export async function closePublisher(): Promise<void> {
  const open = connection;
  connection = null;
  emitter = null;
  if (open) await open.quit().catch(() => open.disconnect());
}
