import type { Socket } from 'node:net';

/** One open HTTP connection, as the cap sees it. */
interface Tracked {
  socket: Socket;
  /** Requests whose headers arrived and whose answer is not finished (a stream counts until it ends, a WebSocket for good). */
  inFlight: number;
  /** Whether a request's headers ever arrived on it. */
  served: boolean;
}

export interface AdmissionEvents {
  /** Every open connection was busy: the new one was closed. */
  refused(remote: string | undefined): void;
  /** An idle connection was closed to admit a new one. */
  evicted(remote: string | undefined, wasServed: boolean): void;
}

/**
 * `max_http_connections`, enforced so that connections which hold a slot and
 * do nothing cannot keep clients out. At the cap, a new connection takes the
 * slot of the oldest idle one: first one on which no request's headers ever
 * arrived (a peer that connects and sends nothing, or trickles its headers),
 * then one kept alive between requests (its client reconnects, as it would
 * after the keep-alive timeout). Only when every open connection is busy — a
 * request or stream in progress, a WebSocket — is the new one closed at once.
 *
 * Node's own `server.maxConnections` refuses the newcomer instead, so that a
 * peer opening connections and sending nothing held every slot until Node's
 * headers timeout (60 s, checked every 30 s), and could keep reopening them.
 *
 * A connection is known by its peer's address and port, which the plain
 * socket of the `connection` event and the TLS socket of its requests share.
 */
export class ConnectionAdmission {
  /** Open connections, oldest first (a Map keeps insertion order). */
  private readonly open = new Map<string, Tracked>();

  constructor(
    private readonly max: number,
    private readonly events: AdmissionEvents,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** A new connection (the server's `connection` event): admit it, at the cost of an idle one if need be. */
  admit(socket: Socket): void {
    const key = keyOf(socket);
    if (key === null) return void socket.destroy(); // already gone: no address to know it by
    if (this.open.size >= this.max) {
      const victim = this.oldest((t) => t.inFlight === 0 && !t.served) ?? this.oldest((t) => t.inFlight === 0);
      if (victim === null) {
        socket.destroy();
        this.events.refused(socket.remoteAddress);
        return;
      }
      const [victimKey, tracked] = victim;
      this.open.delete(victimKey);
      tracked.socket.destroy();
      this.events.evicted(tracked.socket.remoteAddress, tracked.served);
    }
    const tracked: Tracked = { socket, inFlight: 0, served: false };
    this.open.set(key, tracked);
    socket.once('close', () => {
      if (this.open.get(key) === tracked) this.open.delete(key);
    });
  }

  /** A request's headers arrived on `socket` (plain or TLS); `done` is called when its answer is finished or abandoned. */
  requestStarted(socket: Socket): () => void {
    const key = keyOf(socket);
    const tracked = key === null ? undefined : this.open.get(key);
    if (!tracked) return () => undefined;
    tracked.inFlight++;
    tracked.served = true;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      tracked.inFlight--;
    };
  }

  /** The connection was handed to the WebSocket upgrade (which closes it if it refuses): a request that lasts as long as it. */
  upgraded(socket: Socket): void {
    this.requestStarted(socket);
  }

  private oldest(idle: (t: Tracked) => boolean): [string, Tracked] | null {
    for (const entry of this.open) if (idle(entry[1])) return entry;
    return null;
  }
}

function keyOf(socket: Socket): string | null {
  const { remoteAddress, remotePort } = socket;
  return remoteAddress === undefined || remotePort === undefined ? null : `${remoteAddress}|${remotePort}`;
}
