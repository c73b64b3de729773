import type { StreamEvent } from '../protocol/envelope.js';
import type { ErrorObject } from '../protocol/errors.js';
import type { MethodName, ParamsOf, ResultOf } from '../protocol/methods.js';
import { TrlClientError } from './client-error.js';
import { EventQueue } from './event-queue.js';

export interface OpenStream {
  stream_id: string;
  command_id: string;
  events: AsyncIterable<StreamEvent>;
}

/** An fs.watch stream: its id, the directory watched, and its `change` events (then `exit`). */
export interface WatchStream {
  stream_id: string;
  path: string;
  events: AsyncIterable<StreamEvent>;
}

interface Pending {
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * The client side of a message-per-line connection (the Unix socket's NDJSON,
 * a WebSocket's text frames): pipelined calls matched to answers by id, and
 * stream events routed to their stream's queue — including events that arrive
 * in the same read as the answer that opened the stream.
 */
export class MessageRouter {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closedError: TrlClientError | null = null;
  private readonly streams = new Map<string, EventQueue>();
  private readonly early = new Map<string, StreamEvent[]>();

  constructor(private readonly send: (message: string) => void) {}

  call(method: string, params: Record<string, unknown>): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Open a streaming method: its ids, and its events as an async iterator ending after `exit` (or `error`). */
  async stream(method: 'exec.stream' | 'exec.attach', params: Record<string, unknown>): Promise<OpenStream> {
    const { data, events } = await this.open<{ stream_id: string; command_id: string }>(method, params);
    return { stream_id: data.stream_id, command_id: data.command_id, events };
  }

  /** Any streaming method: its answer's data, and its events. */
  async open<T extends { stream_id: string }>(method: string, params: Record<string, unknown>): Promise<{ data: T; events: EventQueue }> {
    const data = (await this.call(method, params)) as T;
    const q = new EventQueue();
    if (this.closedError) q.fail(this.closedError);
    for (const ev of this.early.get(data.stream_id) ?? []) q.push(ev);
    this.early.delete(data.stream_id);
    if (!this.closedError) this.streams.set(data.stream_id, q);
    return { data, events: q };
  }

  /** One message from the daemon. */
  receive(text: string): void {
    type Message = { id?: unknown; ok?: boolean; data?: unknown; error?: ErrorObject; stream_id?: unknown };
    let msg: Message;
    try {
      msg = JSON.parse(text) as Message; // the daemon's JSON, trusted as the protocol describes it
    } catch {
      return;
    }
    if (typeof msg.stream_id === 'string') return this.onEvent(msg as StreamEvent);
    if (typeof msg.id !== 'number') {
      // An answer to no request (REQUEST_TOO_LARGE before the close): the pending calls learn why.
      if (msg.ok === false && msg.error) this.failAll(msg.error.message, msg.error);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.data);
    else p.reject(new TrlClientError(msg.error ?? { code: 'INTERNAL_ERROR', message: 'malformed error response' }));
  }

  /** The connection is gone: every pending call and open stream fails with `message`. */
  failAll(message: string, error?: ErrorObject): void {
    if (!this.closedError) this.closedError = new TrlClientError(error ?? { code: 'CONNECTION_CLOSED', message });
    for (const p of this.pending.values()) p.reject(this.closedError);
    this.pending.clear();
    for (const q of this.streams.values()) q.fail(this.closedError);
    this.streams.clear();
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
}

/** The typed surface of a client whose connection carries one message per line or frame. */
export abstract class RoutedClient {
  protected abstract readonly router: MessageRouter;

  /** Call a method; resolves with `data`, rejects with a TrlClientError carrying the protocol error code. */
  call<M extends MethodName>(method: M, params?: ParamsOf<M>): Promise<ResultOf<M>>;
  call(method: string, params?: Record<string, unknown>): Promise<unknown>;
  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    return this.router.call(method, params);
  }

  /**
   * Open a streaming method (exec.stream, exec.attach): resolves with the
   * stream's ids and its events as an async iterator, which ends after the
   * `exit` (or `error`) event.
   */
  stream(method: 'exec.stream' | 'exec.attach', params: Record<string, unknown>): Promise<OpenStream> {
    return this.router.stream(method, params);
  }

  /** fs.watch: change events under a directory until fs.unwatch (or close); the iterator ends after `exit`. */
  async watch(params: ParamsOf<'fs.watch'>): Promise<WatchStream> {
    const { data, events } = await this.router.open<{ stream_id: string; path: string }>('fs.watch', params);
    return { stream_id: data.stream_id, path: data.path, events };
  }

  abstract close(): void;
}
