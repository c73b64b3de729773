import type { TrlClient } from '../../src/client/client.js';
import { isTrlClientError, TrlClientError } from '../../src/client/client-error.js';

/** Error codes that mean "the daemon turned the work away to protect itself" rather than "it broke". */
const REFUSALS = new Set(['RESOURCE_PRESSURE', 'MAX_SESSIONS_REACHED']);
const MAX_EXAMPLES = 20;

/** A result that is not what it must be. Thrown by checks inside an operation. */
export class WrongResult extends Error {}

/** An operation given up on because the daemon turned it away (RESOURCE_PRESSURE…): counted, not a failure. */
export class Refused extends Error {}

interface Pending {
  method: string;
  kind: string;
  sentAt: number;
}

/**
 * Counts everything the soak does: requests sent and answered, latencies per
 * operation kind, refusals, unexpected errors, wrong results and requests
 * never answered (lost), with a few examples of each problem.
 */
export class Tracker {
  requests = 0;
  answered = 0;
  operations = 0;
  completed = 0;
  skipped = 0;
  refused = 0;
  errors = 0;
  wrong = 0;
  readonly latencies = new Map<string, number[]>();
  readonly examples: { errors: string[]; wrong: string[]; lost: string[] } = { errors: [], wrong: [], lost: [] };
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  inFlight = 0;

  /** One request, tracked from sending to its answer. Protocol errors reject with TrlClientError. */
  async rpc<T = unknown>(client: TrlClient, kind: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    this.requests++;
    this.pending.set(id, { method, kind, sentAt: Date.now() });
    try {
      return (await client.call(method, params)) as T;
    } finally {
      this.pending.delete(id);
      this.answered++;
    }
  }

  /** Note an event stream as one pending "request" until its exit event arrives. */
  openStream(kind: string): () => void {
    const id = this.nextId++;
    this.pending.set(id, { method: 'stream events', kind, sentAt: Date.now() });
    return () => this.pending.delete(id);
  }

  /** Run one operation of `kind`, timing it and classifying how it ended. */
  async operation(kind: string, run: () => Promise<void>): Promise<void> {
    this.operations++;
    this.inFlight++;
    const t0 = performance.now();
    try {
      await run();
      const list = this.latencies.get(kind);
      const ms = performance.now() - t0;
      if (list) list.push(ms);
      else this.latencies.set(kind, [ms]);
    } catch (err) {
      if (err instanceof WrongResult) {
        this.wrong++;
        this.example('wrong', `${kind}: ${err.message}`);
      } else if (err instanceof Refused || (isTrlClientError(err) && REFUSALS.has(err.code))) {
        this.refused++;
      } else {
        this.errors++;
        const what = err instanceof TrlClientError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
        this.example('errors', `${kind}: ${what}`);
      }
    } finally {
      this.inFlight--;
      this.completed++;
    }
  }

  /** Requests (and streams) still waiting for an answer, oldest first. */
  outstanding(): Pending[] {
    return [...this.pending.values()].sort((a, b) => a.sentAt - b.sentAt);
  }

  /** Requests waiting longer than `ms`. */
  stuckLongerThan(ms: number): Pending[] {
    const now = Date.now();
    return this.outstanding().filter((p) => now - p.sentAt > ms);
  }

  example(list: 'errors' | 'wrong' | 'lost', text: string): void {
    if (this.examples[list].length < MAX_EXAMPLES) this.examples[list].push(text.slice(0, 500));
  }
}

/** Throw WrongResult unless `ok`. */
export function expect(ok: boolean, what: string, actual?: unknown): asserts ok {
  if (!ok) throw new WrongResult(actual === undefined ? what : `${what}; got ${JSON.stringify(actual).slice(0, 300)}`);
}
