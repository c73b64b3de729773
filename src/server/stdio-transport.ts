import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from './dispatch.js';
import { serveNdjson, type NdjsonEnds } from './ndjson-peer.js';

/**
 * The stdio transport (`trl rpc`, PROTOCOL §1): the one peer is whoever
 * started the process — NDJSON requests on stdin, responses and events on
 * stdout, served exactly as a Unix socket connection is (ndjson-peer.ts). The
 * peer has ended once stdin has ended and every answer has been written, or
 * once stdout is gone; `ended` then resolves and the daemon shuts down.
 * An outer daemon relays a docker session to the trl inside its container
 * this way (docs/docker-tier.md, the inner path).
 */
export class StdioTransport {
  readonly ended: Promise<void>;
  private gone = false;
  private readonly goneFns = new Set<() => void>();
  private resolveEnded!: () => void;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  serve(dispatcher: Dispatcher, maxRequestBytes: number, log: Logger): void {
    const { input, output } = this;
    const isGone = () => this.gone;
    output.on('error', () => this.markGone()); // EPIPE: the peer stopped reading
    output.once('close', () => this.markGone());
    const ends: NdjsonEnds = {
      input,
      output,
      onGone: (fn) => {
        this.goneFns.add(fn);
        return () => this.goneFns.delete(fn);
      },
      get gone() {
        return isGone();
      },
      finish: (last) => {
        if (last !== undefined) output.write(last);
        // stdout is not ours to destroy: its flush is the last thing, then the peer is gone.
        output.write('', () => this.markGone());
      },
    };
    serveNdjson(ends, dispatcher, maxRequestBytes, log);
  }

  /** The peer is gone: streams stop, the daemon may shut down. */
  close(): void {
    this.markGone();
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.input.pause();
    for (const fn of [...this.goneFns]) fn();
    this.goneFns.clear();
    this.resolveEnded();
  }
}
