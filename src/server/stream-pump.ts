import { randomUUID } from 'node:crypto';
import type { Encoding } from '../protocol/common.js';
import type { Command } from '../runtime/command.js';
import { execResult } from '../runtime/exec-result.js';
import type { OutputBuffer } from '../runtime/output-buffer.js';
import { utf8CompletePrefix } from '../runtime/utf8.js';
import type { Connection } from './connection.js';
import { base64EventLine } from './event-line.js';
import { collectWhenQuiet, LARGE_STREAM_BYTES } from '../runtime/idle-collect.js';

const CHUNK = 64 * 1024;
/** A connection that has not drained for this long has stopped reading: it no longer holds the command back. */
const STALL_MS = 1000;
type StreamName = 'stdout' | 'stderr';

/**
 * Sends a command's output as events on one connection (exec.stream,
 * exec.attach). It pulls from the command's bounded buffers only while the
 * connection can take more, so a slow client never blocks the command nor
 * grows the daemon's memory: what it missed is reported as a `gap` event.
 * utf8 events never split a character; offsets are absolute byte offsets.
 */
export class StreamPump {
  readonly streamId = `st-${randomUUID()}`;
  private readonly offsets: Record<StreamName, number>;
  private readonly pending: Record<StreamName, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  private stopWatching: (() => void) | null = null;
  private stopClose: (() => void) | null = null;
  private waitingDrain = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private stopFlow: (() => void) | null = null;
  stalled = false;
  private onEnd: (() => void) | null = null;
  private finished = false;
  private scheduled = false;
  private readonly from: Record<StreamName, number>;

  constructor(
    private readonly cmd: Command,
    private readonly conn: Connection,
    private readonly encoding: Encoding,
    from: Record<StreamName, number>,
    private readonly workingDir: () => string,
  ) {
    this.offsets = { ...from };
    this.from = { ...from };
  }

  /** Begin sending; call after the response that names the stream has been written. */
  start(onEnd?: () => void): void {
    this.onEnd = onEnd ?? null;
    this.stopWatching = this.cmd.watch(() => this.schedule());
    this.stopClose = this.conn.onClose(() => this.stop());
    this.stopFlow = this.cmd.addReader(this);
    this.pump();
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
    if (this.finished || this.conn.closed) return this.stop();
    for (;;) {
      if (!this.conn.writable()) {
        this.waitingDrain = true;
        this.stallTimer = setTimeout(() => {
          this.stalled = true;
          this.cmd.flowCheck();
        }, STALL_MS);
        this.conn.onDrain(() => {
          this.waitingDrain = false;
          if (this.stallTimer) clearTimeout(this.stallTimer);
          this.stallTimer = null;
          this.stalled = false;
          this.pump();
        });
        return;
      }
      const sent = this.sendChunk('stdout', this.cmd.stdout) || this.sendChunk('stderr', this.cmd.stderr);
      if (sent) {
        this.cmd.flowCheck();
        continue;
      }
      if (!this.cmd.running) {
        this.flush('stdout');
        this.flush('stderr');
        // The output went out as events already.
        const { stdout: _stdout, stderr: _stderr, ...result } = execResult(this.cmd, this.workingDir(), this.encoding, false);
        this.conn.send({ stream_id: this.streamId, event: 'exit', data: result });
        this.stop();
      }
      return;
    }
  }

  /** Send the next piece of one stream; false when there is nothing new. */
  private sendChunk(name: StreamName, buf: OutputBuffer): boolean {
    const offset = this.offsets[name];
    if (offset >= buf.total) return false;
    const read = buf.read(offset, CHUNK);
    if (read.skipped > 0) {
      this.flush(name);
      this.conn.send({ stream_id: this.streamId, event: 'gap', stream: name, dropped_bytes: read.skipped, offset: read.offset });
    }
    this.offsets[name] = read.offset + read.data.length;
    if (read.data.length === 0) return read.skipped > 0;
    if (this.encoding === 'base64') {
      this.conn.sendLine(base64EventLine(this.streamId, name, read.data, read.offset));
      return true;
    }
    const held = this.pending[name];
    const bytes = held.length > 0 ? Buffer.concat([held, read.data]) : read.data;
    const start = read.offset - held.length;
    const cut = utf8CompletePrefix(bytes);
    this.pending[name] = bytes.subarray(cut);
    if (cut === 0) return true;
    const text = bytes.subarray(0, cut);
    this.sendData(name, text.toString('utf8'), start);
    return true;
  }

  /** A data event, written as one line without building an event object first (the hot path of a large stream). */
  private sendData(name: StreamName, data: string, offset: number): void {
    this.conn.sendLine(`{"stream_id":"${this.streamId}","event":"${name}","data":${JSON.stringify(data)},"offset":${offset}}\n`);
  }

  /** Emit bytes held back for an unfinished character (before a gap or at the end). */
  private flush(name: StreamName): void {
    const held = this.pending[name];
    if (held.length === 0) return;
    this.pending[name] = Buffer.alloc(0);
    this.conn.send({ stream_id: this.streamId, event: name, data: held.toString('utf8'), offset: this.offsets[name] - held.length });
  }

  offset(stream: StreamName): number {
    return this.offsets[stream];
  }

  stop(): void {
    const onEnd = this.onEnd;
    this.onEnd = null;
    onEnd?.();
    this.finished = true;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    this.stopFlow?.();
    this.stopFlow = null;
    this.stopWatching?.();
    this.stopClose?.();
    this.stopWatching = null;
    this.stopClose = null;
    if (this.offsets.stdout - this.from.stdout + this.offsets.stderr - this.from.stderr >= LARGE_STREAM_BYTES) collectWhenQuiet();
  }
}
