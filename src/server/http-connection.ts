import type { ServerResponse } from 'node:http';
import type { Connection } from './connection.js';
import { finalEventOf, finalEventOfLine } from './stream-slots.js';

/** Above this many unsent bytes the response counts as full: the stream pauses and later reports a gap. */
const HIGH_WATER = 1024 * 1024;

/**
 * A Connection over one HTTP response (POST /v1/rpc of a streaming method):
 * each event is one NDJSON line written (and so flushed as a chunk) as it
 * happens; the response ends after the stream's `exit` or `error` event. If
 * the client goes away the stream stops; the command does not.
 */
export class ResponseConnection implements Connection {
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    /** Called once, when the stream's last event has been written or the client went away. */
    private readonly onEnd: () => void,
  ) {
    res.once('close', () => this.finish());
  }

  send(message: unknown): void {
    if (this.closed) return;
    this.res.write(JSON.stringify(message) + '\n');
    if (finalEventOf(message) !== null) this.finish();
  }

  sendLine(line: string | Buffer): void {
    if (this.closed) return;
    this.res.write(line);
    if (finalEventOfLine(line) !== null) this.finish();
  }

  writable(): boolean {
    return !this.closed && this.res.writableLength < HIGH_WATER;
  }

  onDrain(fn: () => void): void {
    if (this.res.writableLength < HIGH_WATER) setImmediate(fn);
    else this.res.once('drain', fn);
  }

  onClose(fn: () => void): () => void {
    this.res.once('close', fn);
    return () => this.res.off('close', fn);
  }

  get closed(): boolean {
    return this.ended || this.res.destroyed || this.res.writableEnded;
  }

  /** End the response (a no-op if the client already went away). */
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.res.destroyed && !this.res.writableEnded) this.res.end();
    this.onEnd();
  }
}

/** A Connection for a request that opens no stream: nothing is ever sent on it. */
export function unusedConnection(res: ServerResponse): Connection {
  return {
    send: () => undefined,
    sendLine: () => undefined,
    writable: () => !res.destroyed,
    onDrain: (fn) => setImmediate(fn),
    onClose: (fn) => {
      res.once('close', fn);
      return () => res.off('close', fn);
    },
    get closed() {
      return res.destroyed;
    },
  };
}
