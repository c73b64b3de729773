import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Dispatcher } from './dispatch.js';
import { HIGH_WATER, serveNdjson, type NdjsonEnds } from './ndjson-peer.js';
import type { RawSink } from './raw-pump.js';

/** A socket in raw mode (exec.pipe): the bytes go out as they are; the end of the stream ends the connection. */
function rawSocketSink(socket: Socket): RawSink {
  return {
    write: (chunks) => {
      if (socket.destroyed || !socket.writable) return;
      socket.cork();
      for (const chunk of chunks) socket.write(chunk);
      socket.uncork();
    },
    writable: () => !socket.destroyed && socket.writableLength < HIGH_WATER,
    onDrain: (fn) => {
      if (socket.writableLength < HIGH_WATER) setImmediate(fn);
      else socket.once('drain', fn);
    },
    onClose: (fn) => {
      socket.once('close', fn);
      return () => socket.off('close', fn);
    },
    get closed() {
      return socket.destroyed;
    },
    end: () => {
      if (!socket.destroyed) socket.end();
    },
  };
}

/**
 * NDJSON over a Unix socket (PROTOCOL §1): many pipelined requests per
 * connection, answered as each completes. A bad line is answered and the
 * connection stays open; only an over-long line closes it. A connection is
 * read only while it is within its bounds (RequestGate).
 */
export class UnixTransport {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly maxRequestBytes: number,
    private readonly log: Logger,
  ) {
    // Half-open: a client may shut down its writing side and still read every answer.
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket));
  }

  /** Listen with the socket created 0600 from the first instant (umask), then make sure. */
  listen(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const old = process.umask(0o177);
      this.server.once('error', reject);
      try {
        this.server.listen(path, () => {
          this.server.off('error', reject);
          chmodSync(path, 0o600);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => {
      /* peer went away; nothing to answer */
    });
    const ends: NdjsonEnds = {
      input: socket,
      output: socket,
      onGone: (fn) => {
        socket.once('close', fn);
        return () => socket.off('close', fn);
      },
      get gone() {
        return socket.destroyed;
      },
      finish: (last) => {
        if (last === undefined) socket.end();
        else socket.end(last, () => socket.destroy());
      },
      raw: () => rawSocketSink(socket),
    };
    serveNdjson(ends, this.dispatcher, this.maxRequestBytes, this.log, () => this.sockets.delete(socket));
  }

  /** Stop accepting; close open connections after pending writes flush. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** End every connection: at once when its answers are flushed, within 200 ms when a client does not read them. */
  closeConnections(): void {
    for (const s of this.sockets) s.end(() => s.destroy());
    setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 200).unref();
  }
}
