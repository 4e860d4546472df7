import { deleteSent, OutboxMessage, relayLeftovers } from '../db/outbox';
import { publishEvents } from '../realtime/publish';
import { logger } from '../logger';

// The outbox relay (SPEC §2): right after a booking transaction commits, its events go to the
// socket.io emitter and, once a realtime process received them, their outbox rows are deleted. A
// failure (Redis gone, an error reply, nobody listening) is logged, never thrown: the rows stay,
// and the periodic relay sends them.

/** Rows younger than this belong to the relay after their commit; older ones to the periodic relay. */
export const LEFTOVER_AGE_MS = 5000;

/** Sent rows are deleted together, a few milliseconds after the first of them was sent: one statement for many jobs. */
const DELETE_AFTER_MS = 10;

const inFlight = new Set<Promise<void>>();
let sent: OutboxMessage[] = [];
let deleting: Promise<void> | null = null;

function deleteSentSoon(messages: OutboxMessage[]): Promise<void> {
  sent.push(...messages);
  deleting ??= new Promise<void>((resolve) => setTimeout(resolve, DELETE_AFTER_MS)).then(async () => {
    const batch = sent;
    sent = [];
    deleting = null;
    try {
      await deleteSent(batch);
    } catch (error) {
      logger.warn({ err: error, events: batch.length }, 'could not delete relayed outbox rows; the periodic relay will send them again');
    }
  });
  return deleting;
}

async function relay(messages: OutboxMessage[]): Promise<void> {
  try {
    await publishEvents(messages);
  } catch (error) {
    logger.warn({ err: error, events: messages.length }, 'outbox relay failed; the periodic relay will send these events');
    return;
  }
  await deleteSentSoon(messages);
}

/** Called after the commit that made `messages`; does not wait for Redis. */
export function relayAfterCommit(messages: OutboxMessage[]): void {
  if (messages.length === 0) return;
  const relaying = relay(messages).finally(() => inFlight.delete(relaying));
  inFlight.add(relaying);
}

/** Socket events no realtime process took for this long are dropped: their clients have reconnected and read the state since. */
export const SOCKET_EVENT_MAX_AGE_MS = 3600_000;

/** The periodic relay: whatever the relay after commit did not send (a crash, a failed publish, no realtime process up). */
export async function relayOutboxLeftovers(): Promise<number> {
  let result: { sent: number; dropped: number };
  try {
    result = await relayLeftovers((messages) => publishEvents(messages), LEFTOVER_AGE_MS, SOCKET_EVENT_MAX_AGE_MS);
  } catch (error) {
    logger.warn({ err: error }, 'periodic outbox relay failed; it tries again at its next run');
    return 0;
  }
  const { sent, dropped } = result;
  if (sent) logger.info({ events: sent }, 'relayed outbox leftovers');
  if (dropped) logger.warn({ events: dropped, maxAgeMs: SOCKET_EVENT_MAX_AGE_MS }, 'dropped socket events no realtime process took');
  return sent;
}

/** Waits (at most `timeoutMs`) for relays in flight, so a stopping worker sends what it committed. */
export async function drainRelays(timeoutMs = 3000): Promise<void> {
  await Promise.race([Promise.all([...inFlight]), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
}
