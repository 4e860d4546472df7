import { deleteSent, OutboxMessage, relayLeftovers } from '../db/outbox';
import { publishEvents } from '../realtime/publish';
import { logger } from '../logger';

// The outbox relay (SPEC §2): right after a booking transaction commits, its events go to the
// socket.io emitter and, once Redis took them, their outbox rows are deleted. A failure (Redis
// gone, an error reply) is logged, never thrown: the rows stay, and the periodic relay sends them.

/** Rows younger than this belong to the relay after their commit; older ones to the periodic relay. */
export const LEFTOVER_AGE_MS = 5000;

const inFlight = new Set<Promise<void>>();

async function relay(messages: OutboxMessage[]): Promise<void> {
  try {
    await publishEvents(messages);
    await deleteSent(messages);
  } catch (error) {
    logger.warn({ err: error, events: messages.length }, 'outbox relay failed; the periodic relay will send these events');
  }
}

/** Called after the commit that made `messages`; does not wait for Redis. */
export function relayAfterCommit(messages: OutboxMessage[]): void {
  if (messages.length === 0) return;
  const relaying = relay(messages).finally(() => inFlight.delete(relaying));
  inFlight.add(relaying);
}

/** The periodic relay: whatever the relay after commit did not send (a crash, a failed publish). */
export async function relayOutboxLeftovers(): Promise<number> {
  const sent = await relayLeftovers((messages) => publishEvents(messages), LEFTOVER_AGE_MS);
  if (sent) logger.info({ events: sent }, 'relayed outbox leftovers');
  return sent;
}

/** Waits (at most `timeoutMs`) for relays in flight, so a stopping worker sends what it committed. */
export async function drainRelays(timeoutMs = 3000): Promise<void> {
  await Promise.race([Promise.all([...inFlight]), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
}
