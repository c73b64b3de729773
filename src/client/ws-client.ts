import WebSocket from 'ws';
import type { StreamEvent } from '../protocol/envelope.js';
import type { ErrorObject } from '../protocol/errors.js';
import type { MethodName, ParamsOf, ResultOf } from '../protocol/methods.js';
import type { OpenStream } from './client.js';
import { TrlClientError } from './client-error.js';
import { EventQueue } from './event-queue.js';

export interface WsClientOptions {
  /** `ws://HOST:PORT` or `wss://…` (the path /v1/ws is added when missing); `http(s)://` works too. */
  url: string;
  /** The daemon's TRL_AUTH_TOKEN; default: TRL_AUTH_TOKEN from this process's environment. */
  token?: string;
  /** Extra CA certificate(s) to trust for wss:// (e.g. the daemon's self-signed certificate). */
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
}

interface Pending {
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
}

function closedError(message: string): TrlClientError {
  return new TrlClientError({ code: 'CONNECTION_CLOSED', message });
}

/** `http://h:p` → `ws://h:p/v1/ws`; keeps an explicit path. */
export function wsUrlOf(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw closedError(`'${text}' is not a URL; give the daemon's address, e.g. ws://127.0.0.1:8080`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw closedError(`'${text}' is not a ws://, wss://, http:// or https:// URL`);
  if (url.username || url.password || url.search) throw closedError('put the token in the `token` option (or TRL_AUTH_TOKEN), never in the URL');
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/ws';
  return url;
}

/**
 * A trl daemon over one WebSocket (PROTOCOL §1): the Unix socket's NDJSON
 * lines, one per text frame — pipelined calls matched by id, and the events of
 * the streams opened on it. Same `call`/`stream`/`close` surface as TrlClient.
 */
export class TrlWsClient {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closedError: TrlClientError | null = null;
  private readonly streams = new Map<string, EventQueue>();
  private readonly early = new Map<string, StreamEvent[]>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => this.onMessage(Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString()));
    ws.on('close', (code, reason) => this.failAll(`the WebSocket to the trl daemon closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`));
    ws.on('error', (err) => this.failAll(`WebSocket error: ${err.message}`));
  }

  static connect(options: WsClientOptions): Promise<TrlWsClient> {
    const url = wsUrlOf(options.url);
    const token = options.token ?? process.env.TRL_AUTH_TOKEN;
    if (!token) return Promise.reject(closedError("no token: pass `token` (the daemon's TRL_AUTH_TOKEN) or set TRL_AUTH_TOKEN"));
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: { Authorization: `Bearer ${token}` },
        perMessageDeflate: false,
        ca: options.ca,
        rejectUnauthorized: options.rejectUnauthorized ?? true,
      });
      const onError = (err: NodeJS.ErrnoException) => {
        reject(closedError(err.code === 'ECONNREFUSED' ? `no trl daemon listens at ${url.origin}` : `cannot connect to ${url.href}: ${err.message}`));
      };
      ws.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => {
          let error: ErrorObject | undefined;
          try {
            error = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: ErrorObject }).error;
          } catch {
            /* below */
          }
          reject(new TrlClientError(error ?? { code: 'CONNECTION_CLOSED', message: `the daemon refused the WebSocket with HTTP ${res.statusCode}` }));
          ws.terminate();
        });
      });
      ws.once('error', onError);
      ws.once('open', () => {
        ws.off('error', onError);
        resolve(new TrlWsClient(ws));
      });
    });
  }

  call<M extends MethodName>(method: M, params?: ParamsOf<M>): Promise<ResultOf<M>>;
  call(method: string, params?: Record<string, unknown>): Promise<unknown>;
  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async stream(method: 'exec.stream' | 'exec.attach', params: Record<string, unknown>): Promise<OpenStream> {
    const data = (await this.call(method, params)) as { stream_id: string; command_id: string };
    const q = new EventQueue();
    if (this.closedError) q.fail(this.closedError);
    for (const ev of this.early.get(data.stream_id) ?? []) q.push(ev);
    this.early.delete(data.stream_id);
    if (!this.closedError) this.streams.set(data.stream_id, q);
    return { stream_id: data.stream_id, command_id: data.command_id, events: q };
  }

  close(): void {
    this.ws.close(1000);
    this.failAll('this client is closed');
  }

  private onMessage(text: string): void {
    let msg: { id?: unknown; ok?: boolean; data?: unknown; error?: ErrorObject; stream_id?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof msg.stream_id === 'string') return this.onEvent(msg as StreamEvent);
    if (typeof msg.id !== 'number') {
      // An answer to no request (REQUEST_TOO_LARGE before the close): the pending calls learn why.
      if (msg.ok === false && msg.error) this.failAll(msg.error.message, msg.error);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.data);
    else p.reject(new TrlClientError(msg.error ?? { code: 'INTERNAL_ERROR', message: 'malformed error response' }));
  }

  private onEvent(ev: StreamEvent): void {
    const q = this.streams.get(ev.stream_id);
    if (q) {
      q.push(ev);
      if (ev.event === 'exit' || ev.event === 'error') this.streams.delete(ev.stream_id);
      return;
    }
    const list = this.early.get(ev.stream_id) ?? [];
    list.push(ev);
    this.early.set(ev.stream_id, list);
  }

  private failAll(message: string, error?: ErrorObject): void {
    if (!this.closedError) this.closedError = error ? new TrlClientError(error) : closedError(message);
    for (const p of this.pending.values()) p.reject(this.closedError);
    this.pending.clear();
    for (const q of this.streams.values()) q.fail(this.closedError);
    this.streams.clear();
  }
}
