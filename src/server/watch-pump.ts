import { randomUUID } from 'node:crypto';
import type { ChangeKind } from '../protocol/files.js';
import type { Connection } from './connection.js';

/** Change events held for a connection that does not take them; past it they are counted and reported as a gap. */
const MAX_PENDING = 10_000;

/**
 * Sends one fs.watch stream's events on its connection, as StreamPump does
 * for a command's output: only after the response, only while the
 * connection takes more (what a slow client misses is reported as a `gap`
 * event with the count), and an `exit` event last, saying why it ended. The
 * connection closing stops the watch.
 */
export class WatchPump {
  readonly streamId = `st-${randomUUID()}`;
  private readonly queue: { kind: ChangeKind; path: string }[] = [];
  private dropped = 0;
  private endReason: string | null = null;
  private started = false;
  private finished = false;
  private waitingDrain = false;
  private onEnd: (() => void) | null = null;
  private stopClose: (() => void) | null = null;
  /** Stops the watch itself (set once it is open). */
  stopWatch: () => void = () => undefined;

  constructor(private readonly conn: Connection) {}

  change(event: { kind: ChangeKind; path: string }): void {
    if (this.endReason !== null) return;
    if (this.queue.length >= MAX_PENDING) this.dropped++;
    else this.queue.push(event);
    this.flush();
  }

  ended(reason: string): void {
    if (this.endReason !== null) return;
    this.endReason = reason;
    this.flush();
  }

  /** Begin sending; call after the response that names the stream has been written. */
  start(onEnd?: () => void): void {
    this.onEnd = onEnd ?? null;
    this.started = true;
    this.stopClose = this.conn.onClose(() => {
      this.stopWatch();
      this.finish();
    });
    this.flush();
  }

  private flush(): void {
    if (!this.started || this.finished || this.waitingDrain) return;
    if (this.conn.closed) return this.finish();
    while (this.queue.length > 0 || this.dropped > 0) {
      if (!this.conn.writable()) {
        this.waitingDrain = true;
        this.conn.onDrain(() => {
          this.waitingDrain = false;
          this.flush();
        });
        return;
      }
      if (this.dropped > 0) {
        this.conn.send({ stream_id: this.streamId, event: 'gap', dropped_events: this.dropped });
        this.dropped = 0;
        continue;
      }
      const e = this.queue.shift()!;
      this.conn.send({ stream_id: this.streamId, event: 'change', kind: e.kind, path: e.path });
    }
    if (this.endReason !== null) {
      this.conn.send({ stream_id: this.streamId, event: 'exit', data: { reason: this.endReason } });
      this.finish();
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopClose?.();
    this.stopClose = null;
    const onEnd = this.onEnd;
    this.onEnd = null;
    onEnd?.();
  }
}
