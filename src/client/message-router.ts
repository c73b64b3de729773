import type { StreamEvent } from '../protocol/envelope.js';
import type { ErrorObject } from '../protocol/errors.js';
import type { MethodName, ParamsOf, ResultOf } from '../protocol/methods.js';
import { raceAbort } from './abort.js';
import { clientError, type TrlClientError } from './client-error.js';
import { CommandStream, type AttachOptions, type RawStream, type StreamOptions, type StreamSource } from './command-stream.js';
import { EventQueue } from './event-queue.js';

export interface OpenStream {
  stream_id: string;
  command_id: string;
  /** The command's process id (0 when the tier does not tell, or the daemon predates it). */
  pid: number;
  events: AsyncIterable<StreamEvent>;
}

/** An fs.watch stream: its id, the directory watched, and its `change` events (then `exit`). */
export interface WatchStream {
  stream_id: string;
  path: string;
  events: AsyncIterable<StreamEvent>;
}

/** Options of one call. */
export interface CallOptions {
  /** Aborting rejects the call with the signal's reason at once; the daemon still carries the request out (stop a command with exec.cancel). */
  signal?: AbortSignal;
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
  /** Streams whose reader stopped listening: their events are dropped until their last one. */
  private readonly released = new Set<string>();
  /** An answer whose output follows its line as raw bytes (raw_output): it is settled when they have come. */
  private awaitingBytes: { data: RawOutputData; settle: ((data: unknown) => void) | null; fail: ((err: Error) => void) | null } | null = null;

  /**
   * `rawOutput`: the connection is a byte stream (the Unix socket), so
   * exec.run and exec.wait ask for their output as raw bytes after the
   * answer's line (`raw_output`): no JSON escaping of megabytes in the daemon
   * and no JSON parse of them here. The result is the same either way: the
   * bytes are decoded into `stdout` and `stderr` as the daemon would have.
   */
  constructor(
    private readonly send: (message: string) => void,
    private rawOutput = false,
  ) {}

  call(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    if (!this.rawOutput || (method !== 'exec.run' && method !== 'exec.wait') || params.raw_output !== undefined) return this.callAsIs(method, params, signal);
    return this.callAsIs(method, { ...params, raw_output: true }, signal).catch((err: unknown) => {
      // A daemon older than raw_output refuses the request before running anything: ask without it from now on.
      if (!isUnknownRawOutput(err)) throw err;
      this.rawOutput = false;
      return this.callAsIs(method, params, signal);
    });
  }

  private callAsIs(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    signal?.throwIfAborted();
    const id = this.nextId++;
    const answer = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send(JSON.stringify({ id, method, params }));
    });
    // An aborted call forgets its id: the answer, when it comes, is dropped.
    return raceAbort(answer, signal, () => this.pending.delete(id));
  }

  /** A streaming method as a RawStream: aborting while it opens closes it as soon as its answer comes. */
  async openRaw(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<RawStream> {
    signal?.throwIfAborted();
    const opening = this.open<{ stream_id: string; command_id: string }>(method, params);
    const { data, events } = await raceAbort(opening, signal, () => {
      opening.then(
        (o) => this.release(o.data.stream_id, o.events),
        () => undefined,
      );
    });
    return { stream_id: data.stream_id, command_id: data.command_id, events, close: () => this.release(data.stream_id, events) };
  }

  /** The reader of a stream stopped listening: end its iterator and drop its further events. */
  release(streamId: string, q: EventQueue): void {
    q.close();
    if (this.streams.delete(streamId)) this.released.add(streamId);
  }

  /** Open a streaming method: its ids, and its events as an async iterator ending after `exit` (or `error`). */
  async stream(method: 'exec.stream' | 'exec.attach', params: Record<string, unknown>): Promise<OpenStream> {
    const { data, events } = await this.open<{ stream_id: string; command_id: string; pid?: number }>(method, params);
    return { stream_id: data.stream_id, command_id: data.command_id, pid: data.pid ?? 0, events };
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

  /**
   * One message from the daemon. Returns how many raw bytes follow its line
   * when it is a `raw_output` answer (pass them to receiveAttached), else
   * nothing.
   */
  receive(text: string): number | undefined {
    type Message = { id?: unknown; ok?: boolean; data?: unknown; error?: ErrorObject; stream_id?: unknown };
    let msg: Message;
    try {
      msg = JSON.parse(text) as Message; // the daemon's JSON, trusted as the protocol describes it
    } catch {
      return undefined;
    }
    if (typeof msg.stream_id === 'string') {
      this.onEvent(msg as StreamEvent);
      return undefined;
    }
    const raw = msg.ok === true ? (msg.data as RawOutputData | undefined)?.raw_output : undefined;
    const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (p) this.pending.delete(msg.id as number);
    if (raw !== undefined) {
      // Settled once its bytes have come (failed if the connection closes first);
      // an answer to an aborted call still has its bytes to skip.
      this.awaitingBytes = { data: msg.data as RawOutputData, settle: p ? p.resolve : null, fail: p ? p.reject : null };
      return raw.stdout + raw.stderr;
    }
    if (typeof msg.id !== 'number') {
      // An answer to no request (REQUEST_TOO_LARGE before the close): the pending calls learn why.
      if (msg.ok === false && msg.error) this.failAll(msg.error.message, msg.error);
      return undefined;
    }
    if (!p) return undefined;
    if (msg.ok) p.resolve(msg.data);
    else p.reject(clientError(msg.error ?? { code: 'INTERNAL_ERROR', message: 'malformed error response' }));
    return undefined;
  }

  /** The raw bytes that followed a `raw_output` answer (valid during this call only): its stdout's, then its stderr's. */
  receiveAttached(bytes: Buffer): void {
    const awaiting = this.awaitingBytes;
    this.awaitingBytes = null;
    if (!awaiting) return;
    const { data, settle } = awaiting;
    const { stdout, stderr } = data.raw_output;
    const encoding = data.encoding === 'base64' ? 'base64' : 'utf8';
    data.stdout = bytes.toString(encoding, 0, stdout);
    data.stderr = bytes.toString(encoding, stdout, stdout + stderr);
    delete (data as { raw_output?: unknown }).raw_output;
    settle?.(data);
  }

  /** The connection is gone: every pending call and open stream fails with `message`. */
  failAll(message: string, error?: ErrorObject): void {
    if (!this.closedError) this.closedError = clientError(error ?? { code: 'CONNECTION_CLOSED', message });
    for (const p of this.pending.values()) p.reject(this.closedError);
    this.pending.clear();
    // A raw_output answer whose line came but whose bytes will not.
    this.awaitingBytes?.fail?.(this.closedError);
    this.awaitingBytes = null;
    for (const q of this.streams.values()) q.fail(this.closedError);
    this.streams.clear();
    this.released.clear();
  }

  private onEvent(ev: StreamEvent): void {
    if (this.released.has(ev.stream_id)) {
      if (ev.event === 'exit' || ev.event === 'error') this.released.delete(ev.stream_id);
      return;
    }
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

/** What receive() reads of a `raw_output` answer. */
interface RawOutputData {
  stdout: string;
  stderr: string;
  encoding?: string;
  raw_output: { stdout: number; stderr: number };
}

/** The error of a daemon that does not know `raw_output` (it predates it). */
function isUnknownRawOutput(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === 'INVALID_PARAMS' && typeof e.message === 'string' && e.message.startsWith("unknown parameter 'raw_output'");
}

/** The typed surface of a client whose connection carries one message per line or frame. */
export abstract class RoutedClient {
  protected abstract readonly router: MessageRouter;
  /** Set by close(): a stream of a client closed on purpose does not reconnect. */
  protected closedByUser = false;

  /** Call a method; resolves with `data`, rejects with a TrlClientError (the subclass of its protocol code, TrlErrors[code]). */
  call<M extends MethodName>(method: M, params?: ParamsOf<M>, options?: CallOptions): Promise<ResultOf<M>>;
  call(method: string, params?: Record<string, unknown>, options?: CallOptions): Promise<unknown>;
  call(method: string, params: Record<string, unknown> = {}, options: CallOptions = {}): Promise<unknown> {
    return this.router.call(method, params, options.signal);
  }

  /**
   * Run a command and stream its output (exec.stream) as typed events; the
   * stream reconnects and resumes from its last offsets if the connection breaks.
   */
  execStream(params: ParamsOf<'exec.stream'>, options?: StreamOptions): Promise<CommandStream> {
    return CommandStream.open(this.streamSource(), 'exec.stream', params, options);
  }

  /** Follow a running (or finished) command's output (exec.attach) from a byte offset, as typed events. */
  attach(commandId: string, options: AttachOptions = {}): Promise<CommandStream> {
    const params: Record<string, unknown> = { command_id: commandId };
    if (options.from !== undefined) params.from_offset = options.from;
    if (options.encoding !== undefined) params.encoding = options.encoding;
    return CommandStream.open(this.streamSource(), 'exec.attach', params, options);
  }

  /** A fresh connection with this client's options, for a stream to resume on. */
  protected abstract reconnect(): Promise<RoutedClient>;

  private streamSource(): StreamSource {
    return {
      openRaw: (method, params, signal) => this.router.openRaw(method, params, signal),
      call: (method, params) => this.router.call(method, params),
      resumeSource: async () => {
        if (this.closedByUser) return null;
        const fresh = await this.reconnect();
        return { source: fresh.streamSource(), release: () => fresh.close() };
      },
    };
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
