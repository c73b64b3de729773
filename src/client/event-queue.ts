import type { StreamEvent } from '../protocol/envelope.js';

/** Events of one stream as an async iterator; ends after `exit` or `error`, or when the connection closes. */
export class EventQueue implements AsyncIterable<StreamEvent> {
  private readonly items: StreamEvent[] = [];
  private waiter: ((r: IteratorResult<StreamEvent>) => void) | null = null;
  private done = false;
  private failure: Error | null = null;
  private failWaiter: ((e: Error) => void) | null = null;

  push(ev: StreamEvent): void {
    if (this.done) return;
    if (ev.event === 'exit' || ev.event === 'error') this.done = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      this.failWaiter = null;
      w({ value: ev, done: false });
    } else this.items.push(ev);
  }

  /** The connection went away: the iterator throws once the queued events are consumed. */
  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.failure = err;
    if (this.failWaiter) this.failWaiter(err);
    this.waiter = null;
    this.failWaiter = null;
  }

  /** The reader stopped listening: the iterator ends (done) once the queued events are consumed. */
  close(): void {
    if (this.done) return;
    this.done = true;
    const w = this.waiter;
    this.waiter = null;
    this.failWaiter = null;
    w?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamEvent> {
    return {
      next: () => {
        const ev = this.items.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (this.failure) return Promise.reject(this.failure);
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = resolve;
          this.failWaiter = reject;
        });
      },
      return: () => {
        this.done = true;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
