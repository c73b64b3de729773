import { connect, type Socket } from 'node:net';
import type { ErrorObject } from '../protocol/errors.js';
import type { MethodName, ParamsOf, ResultOf } from '../protocol/methods.js';
import { defaultSocketPath } from '../protocol/transport.js';
import type { StreamEvent } from '../protocol/envelope.js';
import { LineReader } from '../protocol/line-reader.js';
import { TrlClientError } from './client-error.js';
import { EventQueue } from './event-queue.js';

export interface OpenStream {
  stream_id: string;
  command_id: string;
  events: AsyncIterable<StreamEvent>;
}

interface Pending {
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
}

export interface ClientOptions {
  /** Unix socket path; default: the daemon's default socket. */
  socketPath?: string;
}

/**
 * A connection to a trl daemon over its Unix socket. Requests are pipelined
 * and matched to responses by id, so many calls may be in flight at once.
 */
export class TrlClient {
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly lines: LineReader;
  private closedError: TrlClientError | null = null;
  private readonly streams = new Map<string, EventQueue>();
  /** Events that arrived before their stream was registered (same chunk as the response). */
  private readonly early = new Map<string, StreamEvent[]>();

  private constructor(socket: Socket) {
    this.socket = socket;
    // No size cap on what the daemon sends: it is trusted, and a result may be large.
    this.lines = new LineReader(Number.MAX_SAFE_INTEGER, (line) => this.onLine(line), () => undefined);
    socket.on('data', (chunk: Buffer) => this.lines.push(chunk));
    socket.on('close', () => this.failAll('the connection to the trl daemon closed'));
    socket.on('error', (err) => this.failAll(`connection error: ${err.message}`));
  }

  static connect(options: ClientOptions = {}): Promise<TrlClient> {
    const path = options.socketPath ?? defaultSocketPath();
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const onError = (err: NodeJS.ErrnoException) => {
        const hint =
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
            ? `no trl daemon listens on ${path}; start one with \`trl serve\` (or pass --socket)`
            : `cannot connect to ${path}: ${err.message}`;
        reject(new TrlClientError({ code: 'CONNECTION_CLOSED', message: hint }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new TrlClient(socket));
      });
    });
  }

  /** Call a method; resolves with `data`, rejects with a TrlClientError carrying the protocol error code. */
  call<M extends MethodName>(method: M, params?: ParamsOf<M>): Promise<ResultOf<M>>;
  call(method: string, params?: Record<string, unknown>): Promise<unknown>;
  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  /**
   * Open a streaming method (exec.stream, exec.attach): resolves with the
   * stream's ids and its events as an async iterator, which ends after the
   * `exit` (or `error`) event.
   */
  async stream(method: 'exec.stream' | 'exec.attach', params: Record<string, unknown>): Promise<OpenStream> {
    const data = (await this.call(method, params)) as { stream_id: string; command_id: string };
    const q = new EventQueue();
    if (this.closedError) q.fail(this.closedError);
    for (const ev of this.early.get(data.stream_id) ?? []) q.push(ev);
    this.early.delete(data.stream_id);
    this.streams.set(data.stream_id, q);
    return { stream_id: data.stream_id, command_id: data.command_id, events: q };
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private onLine(line: string): void {
    let msg: { id?: unknown; ok?: boolean; data?: unknown; error?: ErrorObject; stream_id?: unknown };
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof msg.stream_id === 'string') return this.onEvent(msg as StreamEvent);
    if (typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.data);
    else p.reject(new TrlClientError(msg.error ?? { code: 'INTERNAL_ERROR', message: 'malformed error response' }));
  }

  private onEvent(ev: StreamEvent): void {
    const q = this.streams.get(ev.stream_id);
    if (q) {
      q.push(ev);
      if (ev.event === 'exit' || ev.event === 'error') this.streams.delete(ev.stream_id);
      return;
    }
    const list = this.early.get(ev.stream_id) ?? [];
    list.push(ev);
    this.early.set(ev.stream_id, list);
  }

  private failAll(message: string): void {
    if (!this.closedError) this.closedError = new TrlClientError({ code: 'CONNECTION_CLOSED', message });
    for (const p of this.pending.values()) p.reject(this.closedError);
    this.pending.clear();
    for (const q of this.streams.values()) q.fail(this.closedError);
    this.streams.clear();
  }
}
