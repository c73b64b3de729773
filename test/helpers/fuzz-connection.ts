/**
 * One raw fuzz connection (test/fuzz.test.ts): sends cases pipelined within a window, matches each
 * answer to its request by id, and checks every line against the protocol's envelope, error codes
 * and stream events.
 */
import * as net from 'node:net';
import { ERROR_CODES } from '../../src/protocol/errors.js';
import { STREAM_EVENTS } from '../../src/protocol/exec.js';
import { type Case, idKey } from './fuzz-cases.js';
export interface Expect {
  index: number;
  c: Case;
  sentAt: number;
  /** Oracle: this error code is the only right answer. */
  code?: string;
  method?: string;
}

export interface Failure {
  index: number;
  what: string;
  problem: string;
}

export const CODES = new Set<string>(ERROR_CODES);
export const EVENTS = new Set<string>(STREAM_EVENTS);

export class FuzzConnection {
  private readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of a raw_output answer still to come after its line (exec.run, exec.wait): not lines. */
  private attached = 0;
  /** Responses awaited, by expected id key (a multiset: null-id requests share 'null'). */
  readonly waiting = new Map<string, Expect[]>();
  /** Keys sent more than once: their answers cannot be matched to one request, so no per-request oracle applies. */
  private readonly shared = new Set<string>(['null']);
  private readonly seen = new Set<string>();
  inflight = 0;
  closed = false;
  private readonly streams = new Set<string>();
  private readonly ended = new Set<string>();
  private drainWaiters: Array<() => void> = [];
  responses = 0;
  events = 0;

  private constructor(
    socket: net.Socket,
    private readonly onOk: (e: Expect, data: Record<string, unknown>) => void,
    private readonly fail: (f: Failure) => void,
  ) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      for (;;) {
        if (this.attached > 0) {
          const n = Math.min(this.attached, this.buf.length);
          this.attached -= n;
          this.buf = this.buf.subarray(n);
          if (this.attached > 0) break;
        }
        const nl = this.buf.indexOf(0x0a);
        if (nl < 0) break;
        const line = this.buf.subarray(0, nl).toString('utf8');
        this.buf = this.buf.subarray(nl + 1);
        this.attached = this.onLine(line);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(path: string, onOk: FuzzConnection['onOk'], fail: FuzzConnection['fail']): Promise<FuzzConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => resolve(new FuzzConnection(s, onOk, fail)));
      s.once('error', reject);
    });
  }

  send(line: Buffer, key: string, e: Expect): void {
    if (this.seen.has(key)) this.shared.add(key);
    this.seen.add(key);
    const list = this.waiting.get(key);
    if (list) list.push(e);
    else this.waiting.set(key, [e]);
    this.inflight++;
    this.socket.write(line);
    this.socket.write('\n');
  }

  async room(window: number): Promise<void> {
    while (this.inflight >= window && !this.closed) await new Promise<void>((r) => this.drainWaiters.push(r));
  }

  private wake(): void {
    for (const w of this.drainWaiters.splice(0)) w();
  }

  close(): void {
    this.socket.destroy();
  }

  /** One line from the daemon, checked; returns how many raw bytes follow it (a raw_output answer's output). */
  private onLine(line: string): number {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line);
    } catch {
      this.fail({ index: -1, what: 'daemon output', problem: `a line that is not JSON: ${line.slice(0, 300)}` });
      return 0;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.fail({ index: -1, what: 'daemon output', problem: `a line that is not an object: ${line.slice(0, 300)}` });
      return 0;
    }
    if ('stream_id' in msg && !('ok' in msg)) {
      this.onEvent(msg, line);
      return 0;
    }
    const raw = (msg['data'] as { raw_output?: { stdout?: unknown; stderr?: unknown } } | undefined)?.raw_output;
    this.onResponse(msg, line);
    if (raw === undefined) return 0;
    if (!Number.isSafeInteger(raw.stdout) || !Number.isSafeInteger(raw.stderr) || (raw.stdout as number) < 0 || (raw.stderr as number) < 0) {
      this.fail({ index: -1, what: 'daemon output', problem: `raw_output that is not two byte counts: ${line.slice(0, 300)}` });
      return 0;
    }
    return (raw.stdout as number) + (raw.stderr as number);
  }

  private onResponse(msg: Record<string, unknown>, line: string): void {
    this.responses++;
    const key = idKey(msg['id']);
    if (msg['id'] !== null && key === 'null') {
      return this.fail({ index: -1, what: 'daemon output', problem: `a response id that is neither a string, an integer nor null: ${line.slice(0, 300)}` });
    }
    const list = this.waiting.get(key);
    const e = list?.shift();
    if (list && list.length === 0) this.waiting.delete(key);
    if (!e) return this.fail({ index: -1, what: 'daemon output', problem: `a response nobody waits for (a second answer?): ${line.slice(0, 300)}` });
    this.inflight--;
    this.wake();
    const shared = this.shared.has(key);
    const bad = (problem: string) => this.fail({ index: shared ? -1 : e.index, what: shared ? 'a request without a usable id' : e.c.what, problem: `${problem}; response ${line.slice(0, 400)}` });
    const code = shared ? undefined : e.code;
    const keys = Object.keys(msg).sort().join(',');
    if (msg['ok'] === true) {
      if (keys !== 'data,id,ok') return bad(`success envelope has keys ${keys}`);
      if (code) return bad(`expected ${code}, got success`);
      const data = msg['data'] as Record<string, unknown>;
      if (typeof data?.['stream_id'] === 'string') this.streams.add(data['stream_id']);
      this.onOk(e, data);
    } else if (msg['ok'] === false) {
      if (keys !== 'error,id,ok') return bad(`error envelope has keys ${keys}`);
      const err = msg['error'] as { code?: unknown; message?: unknown };
      if (typeof err?.code !== 'string' || !CODES.has(err.code)) return bad(`unknown error code ${JSON.stringify(err?.code)}`);
      if (typeof err.message !== 'string' || err.message.length === 0) return bad('empty error message');
      if (err.code === 'INTERNAL_ERROR') return bad('INTERNAL_ERROR (a bug, says PROTOCOL §3)');
      if (code && err.code !== code) return bad(`expected ${code}, got ${err.code}`);
    } else {
      return bad('`ok` is not a boolean');
    }
  }

  private onEvent(msg: Record<string, unknown>, line: string): void {
    this.events++;
    const sid = msg['stream_id'];
    if (typeof sid !== 'string' || typeof msg['event'] !== 'string' || !EVENTS.has(msg['event'])) {
      return this.fail({ index: -1, what: 'stream event', problem: `malformed event ${line.slice(0, 300)}` });
    }
    if (!this.streams.has(sid)) return this.fail({ index: -1, what: 'stream event', problem: `an event before (or without) its stream's response: ${line.slice(0, 300)}` });
    if (this.ended.has(sid)) return this.fail({ index: -1, what: 'stream event', problem: `an event after the stream's exit/error: ${line.slice(0, 300)}` });
    if (msg['event'] === 'exit' || msg['event'] === 'error') this.ended.add(sid);
  }

  oldest(): Expect | undefined {
    let o: Expect | undefined;
    for (const list of this.waiting.values()) for (const e of list) if (!o || e.sentAt < o.sentAt) o = e;
    return o;
  }

  pending(): Expect[] {
    return [...this.waiting.values()].flat();
  }
}
