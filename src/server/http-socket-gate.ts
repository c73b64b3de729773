import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { RequestGate } from './request-gate.js';

/** What of Node's http server state this touches (lib/_http_server.js); no public API stops its parser. */
interface HttpServerSocket extends Socket {
  _paused?: boolean;
  parser?: { pause(): void; resume(): void } | null;
}

/** Resolves when the response has been flushed or abandoned. */
function responseDone(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => res.once('close', () => resolve()));
}

/**
 * The RequestGate of one HTTP connection (its pipelined requests). A request
 * is in flight until its response has left (for a stream: until it ended);
 * unsent output is what waits in the socket plus the answers Node holds for
 * responses queued behind the one being sent.
 *
 * Stopping the reading needs Node's own means: a plain socket.pause() does not
 * stop the http parser, which reads the socket itself (every pipelined request
 * would still be parsed and emitted). This does what Node's pipelining flood
 * guard does: set `socket._paused` (Node then pauses the parser after the
 * chunk it is parsing) and pause the parser when outside a parse; lifting both
 * together. That guard lifts any hold when the socket drains, so the hold is
 * taken again on the socket's 'resume' while the gate still wants it.
 */
export class HttpSocketGate {
  private readonly responses = new Set<ServerResponse>();
  private readonly gate: RequestGate<() => Promise<number>>;
  private held = false;

  constructor(private readonly socket: HttpServerSocket) {
    this.gate = new RequestGate({ unsent: () => this.unsent(), pause: () => this.hold(), resume: () => this.release() }, (job) => job());
    socket.on('resume', () => {
      if (this.held) this.applyHold();
    });
    socket.on('drain', () => this.gate.kick());
    socket.once('close', () => this.gate.close());
  }

  /** Answer a request once the connection's bounds allow; `answer` resolves (with its size) when the response has been ended or its stream started. */
  push(res: ServerResponse, answer: () => Promise<number>): void {
    this.gate.push(async () => {
      this.responses.add(res);
      try {
        const bytes = await answer();
        await responseDone(res);
        return bytes;
      } finally {
        this.responses.delete(res);
      }
    });
  }

  private unsent(): number {
    let queued = 0;
    // A response waiting its turn holds its body itself (`writableLength` is then its own buffer only).
    for (const res of this.responses) if (!res.socket) queued += res.writableLength;
    return this.socket.writableLength + queued;
  }

  private hold(): void {
    this.held = true;
    this.applyHold();
  }

  private applyHold(): void {
    const s = this.socket;
    s._paused = true;
    s.pause();
    // Never inside a parse (pausing the parser there breaks it): the tick after is outside any.
    process.nextTick(() => {
      if (this.held && s._paused && !s.destroyed) s.parser?.pause();
    });
  }

  private release(): void {
    this.held = false;
    const s = this.socket;
    if (s.destroyed) return;
    if (s._paused) {
      s._paused = false;
      s.parser?.resume();
    }
    s.resume();
  }
}
