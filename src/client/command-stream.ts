import type { StreamEvent } from '../protocol/envelope.js';
import type { ErrorObject } from '../protocol/errors.js';
import { abortReason, raceAbort } from './abort.js';
import { clientError, isTrlClientError } from './client-error.js';
import type { ExecEvent, ExitData, OutputName } from './events.js';

/** One open stream on one connection, as a client's transport gives it. */
export interface RawStream {
  stream_id: string;
  command_id: string;
  events: AsyncIterable<StreamEvent>;
  /** Stop receiving its events (the command runs on). */
  close(): void;
}

/** What a CommandStream needs from the client that opened it. */
export interface StreamSource {
  openRaw(method: 'exec.stream' | 'exec.attach', params: Record<string, unknown>, signal?: AbortSignal): Promise<RawStream>;
  call(method: string, params: Record<string, unknown>): Promise<unknown>;
  /**
   * Where to resume after the connection broke: a fresh connection (released
   * when the stream is done with it), or the same client when its transport
   * outlives one response (HTTP). Null when the client was closed by its user.
   */
  resumeSource(): Promise<{ source: StreamSource; release(): void } | null>;
}

export type Offsets = Record<OutputName, number>;

export interface ResumeOptions {
  /** Connection attempts after a break before giving up (default 5). */
  attempts?: number;
  /** Wait before the second attempt, doubling after each (default 200 ms; the first attempt is immediate). */
  delayMs?: number;
}

export interface StreamOptions {
  /** Aborting stops the stream (the iteration rejects with the signal's reason); the command runs on: `cancel()` stops it. */
  signal?: AbortSignal;
  /** Reconnect and resume from the last byte offsets when the connection breaks (default true). */
  resume?: boolean | ResumeOptions;
}

export interface AttachOptions extends StreamOptions {
  /** Replay from this byte offset (both streams, or per stream); default: from the start of the buffered output. */
  from?: number | Partial<Offsets>;
  encoding?: 'utf8' | 'base64';
}

/** Everything a stream carried, once it ended. */
export interface CollectedOutput {
  /** The output in the stream's encoding (base64 streams: the bytes, base64-encoded once). */
  stdout: string;
  stderr: string;
  exit: ExitData;
  /** Bytes lost to `gap` events (a reader slower than the command's buffer). */
  dropped_bytes: number;
}

/**
 * A command's output as an async iterable of typed events, ending after
 * `exit`. It keeps the byte offset reached on each stream, so when the
 * connection breaks it reconnects and continues with exec.attach from exactly
 * there: the caller sees each byte once. Iterate it once.
 */
export class CommandStream implements AsyncIterable<ExecEvent> {
  readonly command_id: string;
  /** The next byte offset of each output stream: where a resume (or a later `attach`) continues. */
  readonly offsets: Offsets;
  /** The exit event's data, once it arrived. */
  exit: ExitData | null = null;
  /** How many times the stream was resumed on a new connection. */
  resumes = 0;
  private current: RawStream;
  /** The client calls go to: the one that opened the stream, then the connection of the last resume. */
  private active: StreamSource;
  private release: (() => void) | null = null;
  private iterated = false;
  private closed = false;

  private constructor(
    private readonly source: StreamSource,
    raw: RawStream,
    from: Offsets,
    private readonly encoding: 'utf8' | 'base64',
    private readonly signal: AbortSignal | undefined,
    private readonly resume: Required<ResumeOptions> | null,
  ) {
    this.command_id = raw.command_id;
    this.current = raw;
    this.active = source;
    this.offsets = { ...from };
  }

  /** Open exec.stream or exec.attach through `source`. */
  static async open(source: StreamSource, method: 'exec.stream' | 'exec.attach', params: Record<string, unknown>, options: StreamOptions = {}): Promise<CommandStream> {
    options.signal?.throwIfAborted();
    const raw = await source.openRaw(method, params, options.signal);
    const from = params.from_offset;
    const offsets = typeof from === 'number' ? { stdout: from, stderr: from } : { stdout: 0, stderr: 0, ...(from as Partial<Offsets> | undefined) };
    const r = options.resume ?? true;
    const resume = r === false ? null : { attempts: 5, delayMs: 200, ...(r === true ? {} : r) };
    return new CommandStream(source, raw, offsets, params.encoding === 'base64' ? 'base64' : 'utf8', options.signal, resume);
  }

  /** The id of the stream on its current connection (a new one after each resume). */
  get stream_id(): string {
    return this.current.stream_id;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ExecEvent> {
    if (this.iterated) throw new Error('a CommandStream can be iterated once; attach again (client.attach) to read the output another time');
    this.iterated = true;
    try {
      for (;;) {
        let broken: unknown = null;
        const it = this.current.events[Symbol.asyncIterator]();
        try {
          for (;;) {
            const raw = this.current;
            const r = await raceAbort(it.next(), this.signal, () => raw.close());
            if (r.done) break;
            const ev = this.account(r.value);
            if (ev === null) continue;
            yield ev;
            if (ev.event === 'exit') return;
          }
        } catch (err) {
          if (this.signal?.aborted || !isTrlClientError(err, 'CONNECTION_CLOSED')) throw err;
          broken = err;
        }
        if (this.closed) return;
        broken ??= clientError({ code: 'CONNECTION_CLOSED', message: 'the stream ended before its exit event' });
        if (!(await this.reconnect())) throw broken;
      }
    } finally {
      this.close();
    }
  }

  /** Read the stream to its end: the whole output and the exit data. */
  async collect(): Promise<CollectedOutput> {
    const parts: Record<OutputName, string[]> = { stdout: [], stderr: [] };
    let dropped = 0;
    for await (const ev of this) {
      if (ev.event === 'stdout' || ev.event === 'stderr') parts[ev.event].push(ev.data);
      else if (ev.event === 'gap') dropped += ev.dropped_bytes;
    }
    const join = (list: string[]) => (this.encoding === 'base64' ? Buffer.concat(list.map((s) => Buffer.from(s, 'base64'))).toString('base64') : list.join(''));
    if (!this.exit) throw clientError({ code: 'CONNECTION_CLOSED', message: 'the stream ended before its exit event' });
    return { stdout: join(parts.stdout), stderr: join(parts.stderr), exit: this.exit, dropped_bytes: dropped };
  }

  /** Stop the command (exec.cancel: SIGTERM, grace, SIGKILL to its process tree); the stream then ends with its exit. */
  async cancel(): Promise<void> {
    await this.active.call('exec.cancel', { command_id: this.command_id });
  }

  /** Stop receiving events; the command runs on (attach again with `offsets` to continue). */
  close(): void {
    this.closed = true;
    // After exit the stream is over on its own (and an HTTP response left alone keeps its connection for reuse).
    if (!this.exit) this.current.close();
    this.release?.();
    this.release = null;
  }

  /** Track offsets; the typed event, or null for one this SDK does not know (skipped). */
  private account(ev: StreamEvent): ExecEvent | null {
    switch (ev.event) {
      case 'stdout':
      case 'stderr': {
        const data = typeof ev.data === 'string' ? ev.data : '';
        const offset = typeof ev.offset === 'number' ? ev.offset : this.offsets[ev.event];
        // Exact for base64 and for valid UTF-8 (a byte that is not UTF-8 arrives as U+FFFD: stream base64 for binary output).
        this.offsets[ev.event] = offset + Buffer.byteLength(data, this.encoding);
        return { stream_id: ev.stream_id, event: ev.event, data, offset };
      }
      case 'gap': {
        const stream = ev.stream === 'stderr' ? 'stderr' : 'stdout';
        const offset = typeof ev.offset === 'number' ? ev.offset : this.offsets[stream];
        this.offsets[stream] = offset;
        return { stream_id: ev.stream_id, event: 'gap', stream, dropped_bytes: Number(ev.dropped_bytes ?? 0), offset };
      }
      case 'exit':
        this.exit = ev.data as ExitData;
        return { stream_id: ev.stream_id, event: 'exit', data: this.exit };
      case 'error':
        throw clientError((ev.data as ErrorObject | undefined) ?? { code: 'INTERNAL_ERROR', message: 'the stream ended with an error event without details' });
      default:
        return null;
    }
  }

  /** Attach again from the offsets reached, on a new connection; false when resuming is off or every attempt failed. */
  private async reconnect(): Promise<boolean> {
    if (!this.resume) return false;
    for (let attempt = 0; attempt < this.resume.attempts; attempt++) {
      if (attempt > 0) await sleep(this.resume.delayMs * 2 ** (attempt - 1), this.signal);
      if (this.closed) return false;
      let next: { source: StreamSource; release(): void } | null;
      try {
        next = await this.source.resumeSource();
      } catch (err) {
        if (isTrlClientError(err, 'CONNECTION_CLOSED')) continue;
        throw err;
      }
      if (next === null) return false;
      try {
        const raw = await next.source.openRaw('exec.attach', { command_id: this.command_id, from_offset: { ...this.offsets }, encoding: this.encoding }, this.signal);
        this.release?.();
        this.release = () => next.release();
        this.current = raw;
        this.active = next.source;
        this.resumes++;
        return true;
      } catch (err) {
        next.release();
        if (!isTrlClientError(err, 'CONNECTION_CLOSED')) throw err;
      }
    }
    return false;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      if (signal) reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
