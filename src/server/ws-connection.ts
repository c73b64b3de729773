import { WebSocket } from 'ws';
import type { Connection } from './connection.js';

/** Above this many unsent bytes the socket counts as full: streams pause and later report a gap. */
const HIGH_WATER = 1024 * 1024;

/**
 * A Connection over one WebSocket: every message is one text frame holding
 * exactly what one NDJSON line holds on the Unix socket (without the newline).
 * Back-pressure comes from `bufferedAmount`; drain waiters are woken from the
 * write callbacks, which run as frames reach the kernel.
 */
export class WsConnection implements Connection {
  private drainWaiters: (() => void)[] = [];
  private readonly afterWrite = (): void => {
    if (this.drainWaiters.length > 0 && this.ws.bufferedAmount < HIGH_WATER) this.wake();
    this.written();
  };

  constructor(
    private readonly ws: WebSocket,
    /** Sees every message before it is sent (stream bookkeeping). */
    private readonly observe: (message: unknown, line: string | Buffer | null) => void,
    /** Called as each message's bytes reach the kernel (the socket's request back-pressure). */
    private readonly written: () => void = () => undefined,
  ) {
    ws.once('close', () => this.wake());
  }

  /** Returns the size of what was written. */
  send(message: unknown): number {
    this.observe(message, null);
    const text = JSON.stringify(message);
    this.write(text);
    return text.length;
  }

  sendLine(line: string | Buffer): void {
    this.observe(null, line);
    if (typeof line === 'string') return this.write(line.endsWith('\n') ? line.slice(0, -1) : line);
    // The bytes of a text frame: sent as they are, without decoding them to a string first.
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(line[line.length - 1] === 0x0a ? line.subarray(0, -1) : line, { binary: false }, this.afterWrite);
  }

  private write(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(text, this.afterWrite);
  }

  writable(): boolean {
    return this.ws.readyState === WebSocket.OPEN && this.ws.bufferedAmount < HIGH_WATER;
  }

  onDrain(fn: () => void): void {
    if (this.ws.readyState !== WebSocket.OPEN || this.ws.bufferedAmount < HIGH_WATER) setImmediate(fn);
    else this.drainWaiters.push(fn);
  }

  onClose(fn: () => void): () => void {
    this.ws.once('close', fn);
    return () => this.ws.off('close', fn);
  }

  get closed(): boolean {
    return this.ws.readyState !== WebSocket.OPEN;
  }

  private wake(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const fn of waiters) fn();
  }
}
