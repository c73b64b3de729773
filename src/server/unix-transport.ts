import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { TrlError } from '../protocol/errors.js';
import type { Dispatcher } from './dispatch.js';
import type { Connection } from './connection.js';
import { LineReader } from '../protocol/line-reader.js';
import { byteLength, messageLine } from './message-bytes.js';
import type { RawSink } from './raw-pump.js';
import { MAX_IN_FLIGHT, RequestGate } from './request-gate.js';
import { asError } from '../tiers/shared/thrown.js';

/** Above this many unsent bytes a connection counts as full: streams pause and later report a gap. */
const HIGH_WATER = 1024 * 1024;

function socketConnection(socket: Socket, send: (obj: unknown) => void, write: (text: string | Buffer) => void, openRaw: () => RawSink | string): Connection {
  return {
    openRaw,
    send,
    sendLine: write,
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
    // Each open stream listens for 'close' and 'drain': as many as the requests a connection may have in flight.
    socket.setMaxListeners(MAX_IN_FLIGHT + 8);
    socket.on('error', () => {
      /* peer went away; nothing to answer */
    });
    let peerEnded = false;
    // Every write's callback runs as its bytes reach the kernel: the moment to see whether reading may resume.
    const written = () => gate.kick();
    const write = (text: string | Buffer) => {
      if (!socket.destroyed && socket.writable) socket.write(text, written);
    };
    const send = (obj: unknown): number => {
      const line = messageLine(obj);
      if (typeof line === 'string') {
        write(line);
        return line.length;
      }
      // Parts of one line (a large result's output bytes among them): one writev, no joined copy.
      socket.cork();
      for (const part of line) write(part);
      socket.uncork();
      return byteLength(line);
    };
    // exec.pipe: from its answer on, the connection carries raw bytes only; requests are no longer read.
    let requests = 0;
    let raw = false;
    const openRaw = (): RawSink | string => {
      if (requests !== 1) return 'exec.pipe turns its connection into raw bytes: send it as the first request of a connection of its own';
      raw = true;
      gate.close();
      return rawSocketSink(socket);
    };
    const conn = socketConnection(socket, send, write, openRaw);
    const finishIfDone = () => {
      if (peerEnded && gate.idle && !socket.destroyed) socket.end();
    };
    const gate = new RequestGate<string>(
      { unsent: () => socket.writableLength, pause: () => socket.pause(), resume: () => socket.resume() },
      (line) => {
        requests++;
        return this.answer(line, conn, send);
      },
      finishIfDone,
    );
    socket.on('close', () => {
      this.sockets.delete(socket);
      gate.close();
    });
    const reader = new LineReader(
      this.maxRequestBytes,
      (line) => gate.push(line),
      () => {
        const err = new TrlError('REQUEST_TOO_LARGE', `a request line is larger than ${this.maxRequestBytes} bytes (max_request_bytes); send large data in smaller pieces or files`);
        this.log.warn({ max_request_bytes: this.maxRequestBytes }, 'request too large; closing connection');
        gate.close();
        socket.pause();
        socket.end(JSON.stringify({ id: null, ok: false, error: err.toObject() }) + '\n', () => socket.destroy());
      },
    );
    socket.on('data', (chunk: Buffer) => {
      // In raw mode what the peer sends is not read as requests (it is read, so that its going away is seen).
      if (!raw) reader.push(chunk);
    });
    socket.on('end', () => {
      reader.end();
      peerEnded = true;
      finishIfDone();
    });
  }

  /**
   * One request line, answered on its connection. Resolves with the answer's
   * size once it is written or, for a stream, once its last event is: an open
   * stream is work in flight too (a half-closed peer still gets its events,
   * and a connection cannot open streams without bound).
   */
  private async answer(line: string, conn: Connection, send: (obj: unknown) => number): Promise<number> {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch (err) {
      return send(this.dispatcher.badJson(asError(err)));
    }
    const { response, after } = await this.dispatcher.handle(msg, conn);
    const bytes = send(response);
    if (after) await new Promise<void>((resolve) => after(resolve));
    return bytes;
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
