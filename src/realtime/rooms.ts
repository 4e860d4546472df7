import { AuthUser } from '../http/auth';

// Room names and who may join them (SPEC §9). Pure: the socket server and the publisher both build
// room names here, so an event is always emitted to exactly the room its listeners joined.

export const ADMIN_ROOM = 'admin';

export function userRoom(userId: number): string {
  return `user:${userId}`;
}

export function vendorRoom(vendorId: number): string {
  return `vendor:${vendorId}`;
}

/** `date` is a calendar date already normalized to YYYY-MM-DD. */
export function slotsRoom(gameId: number, date: string): string {
  return `slots:${gameId}:${date}`;
}

export type RoomDecision = { ok: true; room: string } | { ok: false; message: string };

const refuse = (message: string): RoomDecision => ({ ok: false, message });

/** A user follows their own bookings; an admin may follow anyone's. */
export function bookingsRoomFor(user: AuthUser | null, userId: number): RoomDecision {
  if (!user) return refuse('Authentication required');
  if (user.role !== 'admin' && user.id !== userId) return refuse('You may subscribe only to your own bookings');
  return { ok: true, room: userRoom(userId) };
}

/**
 * Slot availability is public, like the catalog it mirrors; the room is named by the game, so the
 * game must be the named cafe's (`game` is what the catalog holds for `gameId`, if anything).
 */
export function slotsRoomFor(game: { vendor_id: number } | undefined, vendorId: number, gameId: number, date: string): RoomDecision {
  if (!game) return refuse(`Game ${gameId} not found`);
  if (game.vendor_id !== vendorId) return refuse(`Game ${gameId} is not a game of cafe ${vendorId}`);
  return { ok: true, room: slotsRoom(gameId, date) };
}

/** SPEC §9: a connection may join at most this many rooms (its own socket-id room not counted). */
export const MAX_ROOMS_PER_CONNECTION = 50;

/** Whether a connection that has joined `joined` may join `room` as well; joining a room again is always allowed. */
export function withinRoomLimit(joined: ReadonlySet<string>, room: string): RoomDecision {
  if (joined.has(room) || joined.size < MAX_ROOMS_PER_CONNECTION) return { ok: true, room };
  return refuse(`A connection may join at most ${MAX_ROOMS_PER_CONNECTION} rooms`);
}

/** A cafe's feed is for that cafe's staff (a vendor token with its vendor_id) and admins. */
export function vendorRoomFor(user: AuthUser | null, vendorId: number): RoomDecision {
  if (!user) return refuse('Authentication required');
  if (user.role === 'admin') return { ok: true, room: vendorRoom(vendorId) };
  if (user.role === 'vendor' && user.vendorId === vendorId) return { ok: true, room: vendorRoom(vendorId) };
  return refuse('Only this cafe or an admin may connect to its feed');
}

export function adminRoomFor(user: AuthUser | null): RoomDecision {
  if (!user) return refuse('Authentication required');
  if (user.role !== 'admin') return refuse('Requires role admin');
  return { ok: true, room: ADMIN_ROOM };
}
