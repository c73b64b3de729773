import { isMethodName, METHODS, type MethodSpec } from '../protocol/methods.js';
import { TrlError } from '../protocol/errors.js';

/**
 * `max_streams_per_client`: open streams (exec.stream, exec.attach) per HTTP
 * client address or per WebSocket. A slot is taken before the request is
 * dispatched (so no command starts when the client is at its cap) and given
 * back when the stream's `exit`/`error` event is sent or its connection closes.
 */
export class StreamSlots {
  private readonly used = new Map<string, number>();

  constructor(readonly max: number) {}

  tryAcquire(client: string): boolean {
    const n = this.used.get(client) ?? 0;
    if (n >= this.max) return false;
    this.used.set(client, n + 1);
    return true;
  }

  release(client: string): void {
    const n = (this.used.get(client) ?? 0) - 1;
    if (n <= 0) this.used.delete(client);
    else this.used.set(client, n);
  }

  /** A release that counts once however often it is called. */
  releaser(client: string): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.release(client);
    };
  }

  error(): TrlError {
    return new TrlError('RESOURCE_PRESSURE', `this client already has ${this.max} open streams (max_streams_per_client); let one finish, close one, or read output with exec.output instead`);
  }
}

/** Whether a parsed request names a streaming method (exec.stream, exec.attach). */
export function isStreamingRequest(msg: unknown): boolean {
  if (typeof msg !== 'object' || msg === null) return false;
  const { method }: { method?: unknown } = msg;
  if (typeof method !== 'string' || !isMethodName(method)) return false;
  const spec: MethodSpec = METHODS[method];
  return spec.streaming === true;
}

/** The request's usable id, for answers given before dispatch. */
export function requestIdOf(msg: unknown): string | number | null {
  const { id }: { id?: unknown } = typeof msg === 'object' && msg !== null ? msg : {};
  if (typeof id === 'string') return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return id;
  return null;
}

/** The stream id of a final event (`exit`, `error`) given as an object, else null. */
export function finalEventOf(message: unknown): string | null {
  if (typeof message !== 'object' || message === null) return null;
  const m: { stream_id?: unknown; event?: unknown } = message;
  return typeof m.stream_id === 'string' && (m.event === 'exit' || m.event === 'error') ? m.stream_id : null;
}

/**
 * The same for an encoded event line. Only its head is looked at: events put
 * `stream_id` and `event` first, and a quote inside output data is escaped, so
 * output can never fake the marker.
 */
export function finalEventOfLine(line: string | Buffer): string | null {
  const head = typeof line === 'string' ? (line.length > 160 ? line.slice(0, 160) : line) : line.toString('latin1', 0, Math.min(160, line.length));
  if (!head.includes('"event":"exit"') && !head.includes('"event":"error"')) return null;
  const m = /^\{"stream_id":"([^"]+)"/.exec(head);
  return m?.[1] ?? null;
}
