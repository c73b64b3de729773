/**
 * Helpers for streaming tests (exec.stream / exec.attach events, exec.output
 * paging). Everything here reads what a real daemon sent; nothing is
 * simulated.
 */
import assert from 'node:assert/strict';
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import type { OpenStream, TrlClient } from '../../src/client/client.js';
import type { RawConnection, RawLine } from './raw-connection.js';
import { DEADLINE_MS } from './wait.js';

export type Encoding = 'utf8' | 'base64';

export interface StreamEventLike {
  stream_id?: unknown;
  event?: unknown;
  data?: unknown;
  offset?: unknown;
  stream?: unknown;
  dropped_bytes?: unknown;
  [k: string]: unknown;
}

export interface GapEvent {
  stream: 'stdout' | 'stderr';
  dropped_bytes: number;
  /** Offset the next chunk of that stream was expected at when the gap came. */
  at: number;
}

export interface PerStream {
  /** The decoded bytes (empty when `hashOnly`). */
  bytes: Buffer;
  /** The text exactly as the events carried it (utf8 mode; empty when `hashOnly`). */
  text: string;
  /** Bytes received (after decoding), not counting gaps. */
  received: number;
  /** The offset just past the last byte received or dropped (start + received + dropped). */
  end: number;
  /** Offset of the first chunk, or null if none came. */
  firstOffset: number | null;
  /** Number of data events. */
  chunks: number;
  /** Sum of dropped_bytes of this stream's gap events. */
  dropped: number;
  sha256: string;
}

export interface Collected {
  stdout: PerStream;
  stderr: PerStream;
  gaps: GapEvent[];
  exit: Record<string, unknown> | null;
  error: { code?: string; message?: string } | null;
  /** Every event kind in arrival order (data events collapsed to their stream name). */
  kinds: string[];
  /** Events that came after `exit`/`error` (must be none). */
  afterEnd: number;
  /** ms timestamps (Date.now) of each data event: [stream, time, decoded text]. */
  timeline: Array<[string, number, string]>;
}

export interface CollectOptions {
  encoding?: Encoding;
  /** Do not keep the bytes, only hash and count them (for very large outputs). */
  hashOnly?: boolean;
  /** Expected offset of the first chunk of each stream (default 0, or whatever `from` says). */
  from?: { stdout?: number; stderr?: number };
  /** Called on every event (after the checks); return true to stop collecting. */
  onEvent?: (ev: StreamEventLike, c: Collected) => boolean | void;
  /** Keep the timeline (decoded text of each data event). */
  timeline?: boolean;
}

function newPerStream(): PerStream & { hash: Hash; parts: Buffer[]; textParts: string[] } {
  return {
    bytes: Buffer.alloc(0),
    text: '',
    received: 0,
    end: 0,
    firstOffset: null,
    chunks: 0,
    dropped: 0,
    sha256: '',
    hash: createHash('sha256'),
    parts: [],
    textParts: [],
  };
}

/**
 * Consumes stream events and checks the event contract as it goes: every
 * data event has a numeric offset equal to the end of the previous chunk of
 * that stream (plus what a `gap` event said was dropped), `gap` names a stream
 * and a positive count, nothing follows `exit`/`error`.
 */
export class StreamCollector {
  private readonly enc: Encoding;
  private readonly opts: CollectOptions;
  private readonly s = { stdout: newPerStream(), stderr: newPerStream() };
  private readonly pendingDrop = { stdout: 0, stderr: 0 };
  readonly result: Collected;
  ended = false;

  constructor(opts: CollectOptions = {}) {
    this.opts = opts;
    this.enc = opts.encoding ?? 'utf8';
    this.s.stdout.end = opts.from?.stdout ?? 0;
    this.s.stderr.end = opts.from?.stderr ?? 0;
    this.result = {
      stdout: this.s.stdout,
      stderr: this.s.stderr,
      gaps: [],
      exit: null,
      error: null,
      kinds: [],
      afterEnd: 0,
      timeline: [],
    };
  }

  /** Feed one event; returns true once the stream has ended (exit or error) or onEvent asked to stop. */
  push(ev: StreamEventLike): boolean {
    const r = this.result;
    if (this.ended) {
      r.afterEnd++;
      return true;
    }
    const kind = String(ev.event);
    r.kinds.push(kind);
    if (kind === 'stdout' || kind === 'stderr') {
      const st = this.s[kind];
      assert.equal(typeof ev.data, 'string', `${kind} event without string data: ${JSON.stringify(ev).slice(0, 200)}`);
      assert.equal(typeof ev.offset, 'number', `${kind} event without a numeric offset: ${JSON.stringify(ev).slice(0, 200)}`);
      const data = ev.data as string;
      const offset = ev.offset as number;
      const buf = this.enc === 'base64' ? Buffer.from(data, 'base64') : Buffer.from(data, 'utf8');
      if (st.firstOffset === null) st.firstOffset = offset;
      assert.equal(
        offset,
        st.end + this.pendingDrop[kind],
        `${kind} chunk #${st.chunks} at offset ${offset}, expected ${st.end + this.pendingDrop[kind]} (end of the previous chunk or the start ${st.end} + dropped ${this.pendingDrop[kind]})`,
      );
      this.pendingDrop[kind] = 0;
      assert.ok(buf.length > 0, `empty ${kind} event at offset ${offset}`);
      st.end = offset + buf.length;
      st.received += buf.length;
      st.chunks++;
      st.hash.update(buf);
      if (!this.opts.hashOnly) {
        st.parts.push(buf);
        st.textParts.push(data);
      }
      if (this.opts.timeline) r.timeline.push([kind, Date.now(), this.enc === 'base64' ? buf.toString('latin1') : data]);
    } else if (kind === 'gap') {
      assert.ok(ev.stream === 'stdout' || ev.stream === 'stderr', `gap event without a valid stream: ${JSON.stringify(ev)}`);
      assert.equal(typeof ev.dropped_bytes, 'number', `gap event without dropped_bytes: ${JSON.stringify(ev)}`);
      assert.ok((ev.dropped_bytes as number) > 0, `gap event with dropped_bytes ${String(ev.dropped_bytes)}`);
      const stream = ev.stream;
      r.gaps.push({ stream, dropped_bytes: ev.dropped_bytes as number, at: this.s[stream].end + this.pendingDrop[stream] });
      this.pendingDrop[stream] += ev.dropped_bytes as number;
      this.s[stream].dropped += ev.dropped_bytes as number;
    } else if (kind === 'exit') {
      assert.ok(ev.data !== null && typeof ev.data === 'object', `exit event without a data object: ${JSON.stringify(ev)}`);
      r.exit = ev.data as Record<string, unknown>;
      this.ended = true;
    } else if (kind === 'error') {
      r.error = (ev.data ?? {}) as { code?: string; message?: string };
      this.ended = true;
    } else {
      assert.fail(`unknown stream event ${JSON.stringify(ev).slice(0, 300)}`);
    }
    const stop = this.opts.onEvent?.(ev, r) === true;
    return this.ended || stop;
  }

  /** Finish: concatenate the parts and compute the hashes. */
  finish(): Collected {
    for (const k of ['stdout', 'stderr'] as const) {
      const st = this.s[k];
      st.bytes = Buffer.concat(st.parts);
      st.text = st.textParts.join('');
      st.sha256 = st.hash.copy().digest('hex');
      // a trailing gap moves the end too
      st.end += this.pendingDrop[k];
      this.pendingDrop[k] = 0;
    }
    return this.result;
  }
}

/**
 * Read an SDK stream to its end (exit or error) — or until onEvent returns
 * true — checking offsets as StreamCollector does. Rejects after timeoutMs.
 */
export async function collectStream(open: OpenStream, opts: CollectOptions & { timeoutMs?: number } = {}): Promise<Collected> {
  const col = new StreamCollector(opts);
  const timeoutMs = opts.timeoutMs ?? DEADLINE_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`stream ${open.stream_id} did not end within ${timeoutMs} ms; events so far: ${col.result.kinds.slice(-20).join(',')}`)), timeoutMs);
  });
  const it = open.events[Symbol.asyncIterator]();
  try {
    for (;;) {
      const n = await Promise.race([it.next(), timeout]);
      if (n.done) break;
      if (col.push(n.value as StreamEventLike)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return col.finish();
}

/** Open a stream with the SDK and read it to the end. */
export async function streamAll(
  c: TrlClient,
  method: 'exec.stream' | 'exec.attach',
  params: Record<string, unknown>,
  opts: CollectOptions & { timeoutMs?: number } = {},
): Promise<Collected & { stream_id: string; command_id: string }> {
  const open = await c.stream(method, params);
  assert.equal(typeof open.stream_id, 'string');
  assert.equal(typeof open.command_id, 'string');
  const enc = (params['encoding'] as Encoding | undefined) ?? 'utf8';
  const r = await collectStream(open, { encoding: enc, ...opts });
  return { ...r, stream_id: open.stream_id, command_id: open.command_id };
}

/**
 * Read events of stream `streamId` from a raw connection until exit/error
 * (other lines are ignored). For tests that must control the socket itself.
 */
export async function collectRaw(conn: RawConnection, streamId: string, opts: CollectOptions & { timeoutMs?: number } = {}): Promise<Collected> {
  const col = new StreamCollector(opts);
  const deadline = Date.now() + (opts.timeoutMs ?? DEADLINE_MS);
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`stream ${streamId} did not end in time; events so far: ${col.result.kinds.slice(-20).join(',')}`);
    const l: RawLine = await conn.next(left);
    if (l['stream_id'] !== streamId) continue;
    if (col.push(l as StreamEventLike)) break;
  }
  return col.finish();
}

/** Keys every exit event's data carries (the exec.run result minus stdout/stderr, plus byte counts). */
export const EXIT_KEYS = [
  'command_id',
  'exit_code',
  'signal',
  'duration_ms',
  'timed_out',
  'stdout_bytes',
  'stderr_bytes',
  'stdout_truncated_bytes',
  'stderr_truncated_bytes',
  'working_dir',
  'running',
];

/** Assert an exit event's data has the documented fields and no stdout/stderr. */
export function assertExitData(exit: Record<string, unknown> | null, commandId?: string): Record<string, unknown> {
  assert.ok(exit, 'the stream ended without an exit event');
  const missing = EXIT_KEYS.filter((k) => !(k in exit));
  assert.deepEqual(missing, [], `exit event data lacks ${missing.join(', ')}: ${JSON.stringify(exit)}`);
  assert.ok(!('stdout' in exit), 'exit event data must not carry stdout');
  assert.ok(!('stderr' in exit), 'exit event data must not carry stderr');
  assert.equal(exit['running'], false);
  assert.equal(typeof exit['duration_ms'], 'number');
  assert.equal(typeof exit['stdout_bytes'], 'number');
  assert.equal(typeof exit['stderr_bytes'], 'number');
  assert.equal(typeof exit['working_dir'], 'string');
  if (commandId !== undefined) assert.equal(exit['command_id'], commandId);
  return exit;
}

/** sha256 of a file, hex. */
export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** What `i=1; while …; echo "line $i"` prints for 1..n. */
export function numberedLines(from: number, to: number): string {
  let s = '';
  for (let i = from; i <= to; i++) s += `line ${i}\n`;
  return s;
}

/** A shell loop printing `line 1`…`line n`, sleeping `pause` seconds after each line. */
export function numberedLoop(n: number, pause: number): string {
  return `i=1; while [ $i -le ${n} ]; do echo "line $i"; i=$((i+1)); sleep ${pause}; done`;
}
