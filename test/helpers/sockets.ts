import { io as connectClient, Socket } from 'socket.io-client';

// Real socket.io clients for the realtime tests: one way to open them, one way to listen.

/** A client of the realtime server on `port`; not yet connected (see `connected`). */
export function openSocket(port: number, auth: Record<string, unknown> = {}): Socket {
  return connectClient(`http://127.0.0.1:${port}`, { path: '/socket.io', auth, transports: ['websocket'], reconnection: false, forceNew: true });
}

export function connected(client: Socket): Promise<Socket> {
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('connect_error', (error) => reject(error));
  });
}

/**
 * Every server event carries `event_id` and `occurred_at` besides its spec fields; checks them and
 * returns the spec fields, for tests that compare payloads with what a booking change implies.
 */
export function withoutStamp(payload: any): any {
  if (payload === null || typeof payload !== 'object') return payload;
  const { event_id, occurred_at, ...rest } = payload;
  // A bad stamp stays visible in the payload, so the test's comparison fails and shows it.
  if (typeof event_id !== 'string' || !/^[0-9a-f-]{36}$/.test(event_id)) return { ...rest, bad_event_id: event_id ?? null };
  if (typeof occurred_at !== 'string' || Number.isNaN(Date.parse(occurred_at))) return { ...rest, bad_occurred_at: occurred_at ?? null };
  return rest;
}

/** Records every event a client receives (`unstamped`: checked and without their stamp), and waits for particular ones. */
export function recorder(client: Socket, options: { unstamped?: boolean } = {}) {
  const received: Array<{ event: string; payload: any }> = [];
  const waiters: Array<{ matches: (event: string, payload: any) => boolean; resolve: (payload: any) => void }> = [];
  client.onAny((event: string, raw: unknown) => {
    const payload = options.unstamped ? withoutStamp(raw) : raw;
    received.push({ event, payload });
    for (const waiter of waiters.splice(0)) {
      if (waiter.matches(event, payload)) waiter.resolve(payload);
      else waiters.push(waiter);
    }
  });
  return {
    received,
    waitFor(event: string, matches: (payload: any) => boolean = () => true, timeoutMs = 5000): Promise<any> {
      const already = received.find((entry) => entry.event === event && matches(entry.payload));
      if (already) return Promise.resolve(already.payload);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms; got ${JSON.stringify(received)}`)), timeoutMs);
        waiters.push({ matches: (name, payload) => name === event && matches(payload), resolve: (payload) => { clearTimeout(timer); resolve(payload); } });
      });
    },
  };
}
