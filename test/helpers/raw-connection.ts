/**
 * A raw NDJSON connection to the daemon's Unix socket: for tests that must
 * control exactly what is written (pipelining, bad bytes) and see every line
 * the daemon sends.
 */
import * as net from 'node:net';
import { DEADLINE_MS } from './wait.js';

export interface RawLine {
  id?: unknown;
  ok?: boolean;
  data?: any;
  error?: { code: string; message: string; details?: any };
  [k: string]: unknown;
}

export interface RawConnection {
  socket: net.Socket;
  /** Write one line: an object is JSON-encoded; a string is sent as is; a newline is appended. */
  send(msg: unknown): void;
  /** Write raw bytes, no newline added. */
  write(data: string | Buffer): void;
  /** The next line from the daemon, parsed (rejects on close or after timeoutMs). */
  next(timeoutMs?: number): Promise<RawLine>;
  /** The next line, unparsed. */
  nextRaw(timeoutMs?: number): Promise<string>;
  /** Every raw line received so far. */
  received: string[];
  /** Resolves when the daemon closed the connection (rejects after timeoutMs). */
  waitClosed(timeoutMs?: number): Promise<void>;
  isClosed(): boolean;
  close(): void;
}

export function rawConnect(socketPath: string): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const lines: string[] = [];
    const received: string[] = [];
    const waiters: Array<() => void> = [];
    let buf = '';
    let closed = false;
    let closedResolve!: () => void;
    const closedP = new Promise<void>((r) => (closedResolve = r));
    const wake = () => {
      for (const w of waiters.splice(0)) w();
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        received.push(line);
      }
      wake();
    });
    socket.on('error', () => {
      /* surfaces as close */
    });
    socket.on('close', () => {
      closed = true;
      closedResolve();
      wake();
    });
    socket.once('connect', () => {
      const nextRaw = async (timeoutMs = DEADLINE_MS): Promise<string> => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const l = lines.shift();
          if (l !== undefined) return l;
          if (closed) throw new Error('the daemon closed the connection before sending a line');
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`no line from the daemon within ${timeoutMs} ms`);
          await new Promise<void>((r) => {
            const t = setTimeout(r, left);
            waiters.push(() => {
              clearTimeout(t);
              r();
            });
          });
        }
      };
      resolve({
        socket,
        received,
        send: (msg) => socket.write((typeof msg === 'string' ? msg : JSON.stringify(msg)) + '\n'),
        write: (data) => socket.write(data),
        nextRaw,
        next: async (timeoutMs) => {
          const l = await nextRaw(timeoutMs);
          try {
            return JSON.parse(l) as RawLine;
          } catch {
            throw new Error(`the daemon sent a line that is not JSON: ${l.slice(0, 500)}`);
          }
        },
        waitClosed: async (timeoutMs = DEADLINE_MS) => {
          let t: NodeJS.Timeout | undefined;
          try {
            await Promise.race([
              closedP,
              new Promise<never>((_, rej) => {
                t = setTimeout(() => rej(new Error(`the connection was not closed within ${timeoutMs} ms`)), timeoutMs);
              }),
            ]);
          } finally {
            clearTimeout(t);
          }
        },
        isClosed: () => closed,
        close: () => socket.destroy(),
      });
    });
    socket.once('error', (e) => {
      if (!closed) reject(e);
    });
  });
}

/** Send one request on a raw connection and return the response with that id (events/other ids are skipped). */
export async function rawCall(conn: RawConnection, id: string | number, method: string, params?: unknown): Promise<RawLine> {
  conn.send(params === undefined ? { id, method } : { id, method, params });
  for (;;) {
    const l = await conn.next();
    if (l.id === id) return l;
  }
}
