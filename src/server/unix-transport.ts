import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { TrlError } from '../protocol/errors.js';
import type { Dispatcher } from './dispatch.js';
import type { Connection } from './connection.js';
import { LineReader } from '../protocol/line-reader.js';

/** Above this many unsent bytes a connection counts as full: streams pause and later report a gap. */
const HIGH_WATER = 1024 * 1024;

function socketConnection(socket: Socket, send: (obj: unknown) => void): Connection {
  return {
    send,
    sendLine: (line) => {
      if (!socket.destroyed && socket.writable) socket.write(line);
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
  };
}

/**
 * NDJSON over a Unix socket (PROTOCOL §1): many pipelined requests per
 * connection, answered as each completes. A bad line is answered and the
 * connection stays open; only an over-long line closes it.
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
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {
      /* peer went away; nothing to answer */
    });
    let inFlight = 0;
    let peerEnded = false;
    const send = (obj: unknown) => {
      if (!socket.destroyed && socket.writable) socket.write(JSON.stringify(obj) + '\n');
    };
    const conn = socketConnection(socket, send);
    const finishIfDone = () => {
      if (peerEnded && inFlight === 0 && !socket.destroyed) socket.end();
    };
    const reader = new LineReader(
      this.maxRequestBytes,
      (line) => {
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch (err) {
          send(this.dispatcher.badJson(err as Error));
          return;
        }
        inFlight++;
        void this.dispatcher.handle(msg, conn).then(({ response, after }) => {
          inFlight--;
          send(response);
          // An open stream is work in flight too: a half-closed peer still gets its events.
          if (after) {
            inFlight++;
            after(() => {
              inFlight--;
              finishIfDone();
            });
          }
          finishIfDone();
        });
      },
      () => {
        const err = new TrlError('REQUEST_TOO_LARGE', `a request line is larger than ${this.maxRequestBytes} bytes (max_request_bytes); send large data in smaller pieces or files`);
        this.log.warn({ max_request_bytes: this.maxRequestBytes }, 'request too large; closing connection');
        socket.pause();
        socket.end(JSON.stringify({ id: null, ok: false, error: err.toObject() }) + '\n', () => socket.destroy());
      },
    );
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('end', () => {
      reader.end();
      peerEnded = true;
      finishIfDone();
    });
  }

  /** Stop accepting; close open connections after pending writes flush. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  closeConnections(): void {
    for (const s of this.sockets) s.end();
    setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 200);
  }
}
