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

/** Records every event a client receives, and waits for particular ones. */
export function recorder(client: Socket) {
  const received: Array<{ event: string; payload: any }> = [];
  const waiters: Array<{ matches: (event: string, payload: any) => boolean; resolve: (payload: any) => void }> = [];
  client.onAny((event: string, payload: unknown) => {
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
