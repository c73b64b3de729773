import type { Command, FlowReader } from '../runtime/command.js';
import type { OutputBuffer } from '../runtime/output-buffer.js';
import { collectWhenQuiet, LARGE_STREAM_BYTES } from '../runtime/idle-collect.js';

/** The most one write hands over: views of the output buffer's blocks (no copy), written together (one writev). */
const CHUNK = 256 * 1024;
/** A reader that has not drained for this long has stopped reading: it no longer holds the command back (as StreamPump). */
const STALL_MS = 1000;

/** Why a raw stream ended: `eof` every byte was sent and the command is complete; `gap` the bytes from next_offset are gone (the reader fell behind a dropped middle): read on from there; `now` (no follow) every byte there was so far was sent. */
export type RawEndReason = 'eof' | 'gap' | 'now';

/** Where a raw stream's bytes go: a socket switched to raw mode, an HTTP response. Nothing here knows the transport. */
export interface RawSink {
  /** Write these in order, together (corked: one system call for all, however small each is). */
  write(chunks: readonly Buffer[]): void;
  /** False while the outgoing buffer is over its high-water mark. */
  writable(): boolean;
  /** Call once when the outgoing buffer has drained. */
  onDrain(fn: () => void): void;
  /** Call when the peer goes away; returns the unsubscribe. */
  onClose(fn: () => void): () => void;
  readonly closed: boolean;
  /** The last byte has been written. */
  end(reason: RawEndReason, nextOffset: number): void;
}

/**
 * One stream of a command's output (after redaction: the bytes the buffers
 * hold) written as raw bytes, from an absolute offset, as it is produced:
 * no events, no JSON, no encoding, and no copy (each write is a view of the
 * buffer's block). Like StreamPump it reads only while the sink takes more,
 * and while it keeps reading it holds the command back rather than lose
 * bytes; one that stops reading for STALL_MS no longer does, and if bytes are
 * then dropped the stream ends there (`gap`), since raw bytes cannot say so.
 */
export class RawPump implements FlowReader {
  stalled = false;
  /** The offset of the first byte sent (past a dropped middle the offset asked for was in). */
  readonly startOffset: number;
  /** Bytes skipped at the start because they were dropped. */
  readonly droppedBytes: number;
  private pos: number;
  private sink: RawSink | null = null;
  private onEnd: (() => void) | null = null;
  private stopWatching: (() => void) | null = null;
  private stopClose: (() => void) | null = null;
  private stopFlow: (() => void) | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  private waitingDrain = false;
  private scheduled = false;
  private finished = false;

  constructor(
    private readonly cmd: Command,
    readonly stream: 'stdout' | 'stderr',
    offset: number,
    private readonly follow: boolean,
  ) {
    const first = this.buf.peek(offset, 0);
    this.startOffset = this.pos = first.offset;
    this.droppedBytes = first.skipped;
  }

  private get buf(): OutputBuffer {
    return this.stream === 'stderr' ? this.cmd.stderr : this.cmd.stdout;
  }

  /** Begin writing; `onEnd` is called once when the stream is over (ended, or the peer went away). */
  start(sink: RawSink, onEnd?: () => void): void {
    this.sink = sink;
    this.onEnd = onEnd ?? null;
    this.stopWatching = this.cmd.watch(() => this.schedule());
    this.stopClose = sink.onClose(() => this.stop());
    this.stopFlow = this.cmd.addReader(this);
    this.pump();
  }

  offset(stream: 'stdout' | 'stderr'): number {
    // The other stream is not read here: it never holds the command back.
    return stream === this.stream ? this.pos : (stream === 'stderr' ? this.cmd.stderr : this.cmd.stdout).total;
  }

  private schedule(): void {
    if (this.scheduled || this.waitingDrain || this.finished) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const sink = this.sink;
    if (this.finished || sink === null) return;
    if (sink.closed) return this.stop();
    const buf = this.buf;
    for (;;) {
      if (!sink.writable()) return this.awaitDrain(sink);
      if (this.pos < buf.total) {
        // Whatever is there, up to CHUNK, in one go: a pipe often delivers it a few KiB at a time.
        const chunks: Buffer[] = [];
        let size = 0;
        while (size < CHUNK && this.pos + size < buf.total) {
          const r = buf.peek(this.pos + size, CHUNK - size);
          if (r.skipped > 0) break;
          chunks.push(r.data);
          size += r.data.length;
        }
        if (size === 0) return this.finish('gap');
        sink.write(chunks);
        this.pos += size;
        this.cmd.flowCheck();
        continue;
      }
      if (!this.cmd.running) return this.finish('eof');
      if (!this.follow) return this.finish('now');
      return;
    }
  }

  private awaitDrain(sink: RawSink): void {
    this.waitingDrain = true;
    this.stallTimer = setTimeout(() => {
      this.stalled = true;
      this.cmd.flowCheck();
    }, STALL_MS);
    sink.onDrain(() => {
      this.waitingDrain = false;
      if (this.stallTimer) clearTimeout(this.stallTimer);
      this.stallTimer = null;
      this.stalled = false;
      this.pump();
    });
  }

  private finish(reason: RawEndReason): void {
    if (this.finished) return;
    this.sink?.end(reason, this.pos);
    this.stop();
  }

  stop(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    this.stopFlow?.();
    this.stopWatching?.();
    this.stopClose?.();
    this.stopFlow = this.stopWatching = this.stopClose = null;
    const onEnd = this.onEnd;
    this.onEnd = null;
    onEnd?.();
    if (this.pos - this.startOffset >= LARGE_STREAM_BYTES) collectWhenQuiet();
  }
}
