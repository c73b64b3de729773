import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { StreamEvent } from '../protocol/envelope.js';
import type { ErrorObject } from '../protocol/errors.js';
import { LineReader } from '../protocol/line-reader.js';
import { REPEATABLE_METHODS } from '../protocol/repeatable.js';
import type { MethodName, ParamsOf, ResultOf } from '../protocol/methods.js';
import type { Readable } from 'node:stream';
import type { OpenStream } from './client.js';
import type { CallOptions, WatchStream } from './message-router.js';
import { raceAbort } from './abort.js';
import { clientError, TrlErrors, type TrlClientError } from './client-error.js';
import { CommandStream, type AttachOptions, type RawStream, type StreamOptions, type StreamSource } from './command-stream.js';
import { EventQueue } from './event-queue.js';

export interface HttpClientOptions {
  /** Base URL of the daemon's HTTP transport, e.g. `http://127.0.0.1:8080` or `https://trl.internal:8443`. */
  url: string;
  /** The daemon's TRL_AUTH_TOKEN; default: TRL_AUTH_TOKEN from this process's environment. */
  token?: string;
  /** Extra CA certificate(s) to trust for HTTPS (e.g. the daemon's self-signed certificate). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Verify the server's certificate (default true). */
  rejectUnauthorized?: boolean;
}

interface Envelope {
  id?: unknown;
  ok?: boolean;
  data?: unknown;
  error?: ErrorObject;
}

function closedError(message: string): TrlClientError<'CONNECTION_CLOSED'> {
  return new TrlErrors.CONNECTION_CLOSED(message);
}

/**
 * A trl daemon over HTTP(S) (PROTOCOL §1): each call is one `POST /v1/rpc`
 * on a keep-alive connection; a streaming method's events arrive as the NDJSON
 * body of its own request. Same `call`/`stream`/`close` surface as TrlClient.
 */
export class TrlHttpClient {
  private readonly rpcUrl: URL;
  private readonly agent: HttpAgent;
  private resendAgent: HttpAgent | null = null;
  private readonly secure: boolean;
  private nextId = 1;
  private closed = false;
  private readonly open = new Set<IncomingMessage>();

  private constructor(
    url: URL,
    private readonly token: string,
    private readonly options: HttpClientOptions,
  ) {
    this.secure = url.protocol === 'https:';
    this.rpcUrl = new URL('v1/rpc', url.href.endsWith('/') ? url.href : url.href + '/');
    this.agent = this.newAgent(true);
  }

  private newAgent(keepAlive: boolean): HttpAgent {
    return this.secure ? new HttpsAgent({ keepAlive, ca: this.options.ca, rejectUnauthorized: this.options.rejectUnauthorized ?? true }) : new HttpAgent({ keepAlive });
  }

  /** The agent of resends: a connection of its own for each (closed after it). */
  private oneShotAgent(): HttpAgent {
    return (this.resendAgent ??= this.newAgent(false));
  }

  /** Check the URL and the token with a `system.ping`, and resolve with the client. */
  static async connect(options: HttpClientOptions): Promise<TrlHttpClient> {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw closedError(`'${options.url}' is not a URL; give the daemon's HTTP address, e.g. http://127.0.0.1:8080`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw closedError(`'${options.url}' is not an http:// or https:// URL`);
    if (url.username || url.password || url.search) throw closedError('put the token in the `token` option (or TRL_AUTH_TOKEN), never in the URL');
    const token = options.token ?? process.env.TRL_AUTH_TOKEN;
    if (!token) throw closedError("no token: pass `token` (the daemon's TRL_AUTH_TOKEN) or set TRL_AUTH_TOKEN");
    const client = new TrlHttpClient(url, token, options);
    try {
      await client.call('system.ping', {});
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** Call a method; resolves with `data`, rejects with a TrlClientError (the subclass of its protocol code, TrlErrors[code]). */
  call<M extends MethodName>(method: M, params?: ParamsOf<M>, options?: CallOptions): Promise<ResultOf<M>>;
  call(method: string, params?: Record<string, unknown>, options?: CallOptions): Promise<unknown>;
  async call(method: string, params: Record<string, unknown> = {}, options: CallOptions = {}): Promise<unknown> {
    // The signal also goes to the request: aborting closes its connection.
    const res = await raceAbort(this.post(method, params, options.signal), options.signal);
    const body = await raceAbort(readAll(res), options.signal, () => res.destroy());
    return unwrap(parseEnvelope(body, res));
  }

  /**
   * Run a command and stream its output (exec.stream) as typed events; the
   * stream resumes from its last offsets on a new request if the response breaks.
   */
  execStream(params: ParamsOf<'exec.stream'>, options?: StreamOptions): Promise<CommandStream> {
    return CommandStream.open(this.streamSource, 'exec.stream', params, options);
  }

  /** Follow a running (or finished) command's output (exec.attach) from a byte offset, as typed events. */
  attach(commandId: string, options: AttachOptions = {}): Promise<CommandStream> {
    const params: Record<string, unknown> = { command_id: commandId };
    if (options.from !== undefined) params.from_offset = options.from;
    if (options.encoding !== undefined) params.encoding = options.encoding;
    return CommandStream.open(this.streamSource, 'exec.attach', params, options);
  }

  /** Each request has its own response, so a broken stream resumes on this same client. */
  private readonly streamSource: StreamSource = {
    openRaw: (method, params, signal) => this.openRaw(method, params, signal),
    call: (method, params) => this.call(method, params),
    resumeSource: () => Promise.resolve(this.closed ? null : { source: this.streamSource, release: () => undefined }),
  };

  private async openRaw(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<RawStream> {
    const { data, events, res } = await raceAbort(this.openStream<{ stream_id: string; command_id: string }>(method, params, signal), signal);
    return { stream_id: data.stream_id, command_id: data.command_id, events, close: () => res.destroy() };
  }

  /**
   * Open a streaming method (exec.stream, exec.attach): resolves with the
   * stream's ids and its events as an async iterator, which ends after the
   * `exit` (or `error`) event. Leaving the loop early closes the request; the
   * command runs on.
   */
  async stream(method: 'exec.stream' | 'exec.attach', params: Record<string, unknown>): Promise<OpenStream> {
    const { data, events } = await this.openStream<{ stream_id: string; command_id: string; pid?: number }>(method, params);
    return { stream_id: data.stream_id, command_id: data.command_id, pid: data.pid ?? 0, events };
  }

  /** fs.watch: change events under a directory until fs.unwatch (or close); the iterator ends after `exit`. */
  async watch(params: ParamsOf<'fs.watch'>): Promise<WatchStream> {
    const { data, events } = await this.openStream<{ stream_id: string; path: string }>('fs.watch', params);
    return { stream_id: data.stream_id, path: data.path, events };
  }

  /** GET /v1/files: a file's bytes as a stream, with its size. */
  async download(params: { session_id: string; path: string; offset?: number; length?: number }): Promise<{ size: number; stream: Readable }> {
    const res = await this.files('GET', params);
    if (res.statusCode !== 200) throw errorOf(await readAll(res), res);
    return { size: Number(res.headers['x-trl-size'] ?? res.headers['content-length'] ?? 0), stream: res };
  }

  /** PUT /v1/files: the whole file from bytes or a stream of `size` bytes (atomic; see fs.write for the options). */
  async upload(
    params: { session_id: string; path: string; overwrite?: boolean; mode?: string; make_parents?: boolean; expect_hash?: string },
    body: Buffer | Readable,
    size: number = Buffer.isBuffer(body) ? body.length : -1,
  ): Promise<ResultOf<'fs.write'>> {
    if (size < 0) throw closedError('upload: give the size of a streamed body');
    const query: Record<string, string> = { session_id: params.session_id, path: params.path };
    if (params.overwrite) query.overwrite = '1';
    if (params.make_parents) query.make_parents = '1';
    if (params.mode !== undefined) query.mode = params.mode;
    if (params.expect_hash !== undefined) query.expect_hash = params.expect_hash;
    const res = await this.files('PUT', query, body, size);
    return unwrap(parseEnvelope(await readAll(res), res)) as ResultOf<'fs.write'>;
  }

  private files(method: 'GET' | 'PUT', params: Record<string, string | number | boolean | undefined>, body?: Buffer | Readable, size?: number): Promise<IncomingMessage> {
    if (this.closed) return Promise.reject(closedError('this client is closed'));
    const url = new URL('v1/files', this.rpcUrl.href.replace(/v1\/rpc$/, ''));
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
    const request = this.secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method,
        agent: this.agent,
        headers: { Authorization: `Bearer ${this.token}`, ...(size !== undefined ? { 'Content-Length': String(size), 'Content-Type': 'application/octet-stream' } : {}) },
      });
      req.once('response', resolve);
      req.once('error', (err) => reject(closedError(`cannot reach ${url.origin}: ${err.message}`)));
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else body.pipe(req);
    });
  }

  /** A streaming method over one POST: its answer's data, and its events (the body's NDJSON lines). */
  private async openStream<T>(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<{ data: T; events: AsyncIterable<StreamEvent>; res: IncomingMessage }> {
    const res = await this.post(method, params, signal);
    this.open.add(res);
    res.once('close', () => this.open.delete(res));
    return new Promise((resolve, reject) => {
      const q = new EventQueue();
      let first: Envelope | null = null;
      let finished = false;
      const lines = new LineReader(
        Number.MAX_SAFE_INTEGER,
        (line) => {
          let msg: Envelope & Partial<StreamEvent>;
          try {
            msg = JSON.parse(line) as Envelope & Partial<StreamEvent>; // the daemon's JSON, trusted as the protocol describes it
          } catch {
            return;
          }
          if (first === null) {
            first = msg;
            if (!msg.ok) {
              reject(clientError(msg.error ?? { code: 'INTERNAL_ERROR', message: `malformed error response (HTTP ${res.statusCode})` }));
              res.destroy();
              return;
            }
            resolve({ data: msg.data as T, events: closingIterable(q, res), res });
            return;
          }
          if (typeof msg.stream_id !== 'string') return;
          q.push(msg as StreamEvent);
          if (msg.event === 'exit' || msg.event === 'error') finished = true;
        },
        () => undefined,
      );
      res.on('data', (chunk: Buffer) => lines.push(chunk));
      const end = (why: string) => {
        lines.end();
        if (first === null) reject(closedError(`the daemon answered HTTP ${res.statusCode} with no response envelope (${why})`));
        else if (!finished) q.fail(closedError(`the stream's HTTP response ended before its exit event (${why})`));
      };
      res.once('end', () => end('body ended'));
      res.once('error', (err) => end(err.message));
      res.once('close', () => end('connection closed'));
    });
  }

  /** Abort open streams and drop the keep-alive connections. */
  close(): void {
    this.closed = true;
    for (const res of this.open) res.destroy();
    this.agent.destroy();
    this.resendAgent?.destroy();
  }

  private post(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<IncomingMessage> {
    if (this.closed) return Promise.reject(closedError('this client is closed'));
    const body = JSON.stringify({ id: this.nextId++, method, params });
    return this.send(body, signal, REPEATABLE_METHODS.has(method) ? 'may resend' : 'once');
  }

  /**
   * One POST of `body`. A request sent on a kept-alive connection just as
   * the daemon closed it as idle fails with ECONNRESET or EPIPE and no
   * answer. The client cannot tell that from a connection cut after the
   * daemon read the request (a daemon stopping or dying), so only a method
   * that changes nothing (REPEATABLE_METHODS) is sent once more, on a
   * connection of its own (another pooled one may have been closed at the
   * same moment); for any other the failure is the caller's, as is any
   * failure of the resend or of a new connection.
   */
  private send(body: string, signal: AbortSignal | undefined, attempt: 'once' | 'may resend' | 'resend'): Promise<IncomingMessage> {
    const request = this.secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(this.rpcUrl, {
        method: 'POST',
        agent: attempt === 'resend' ? this.oneShotAgent() : this.agent,
        signal,
        headers: {
          Authorization: `Bearer ${this.token}`,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          Accept: 'application/json, application/x-ndjson',
        },
      });
      req.once('response', resolve);
      req.once('error', (err: NodeJS.ErrnoException) => {
        if (attempt === 'may resend' && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && !signal?.aborted && !this.closed) {
          resolve(this.send(body, signal, 'resend'));
          return;
        }
        const hint = err.code === 'ECONNREFUSED' ? `no trl daemon listens at ${this.rpcUrl.origin}; start one with \`trl serve --http …\`` : `cannot reach ${this.rpcUrl.origin}: ${err.message}`;
        reject(closedError(hint));
      });
      req.end(body);
    });
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', (err) => reject(closedError(`the response broke off: ${err.message}`)));
  });
}

function parseEnvelope(body: string, res: IncomingMessage): Envelope {
  try {
    const msg = JSON.parse(body) as Envelope;
    if (typeof msg === 'object' && msg !== null && typeof msg.ok === 'boolean') return msg;
  } catch {
    /* below */
  }
  throw closedError(`the daemon answered HTTP ${res.statusCode} without a response envelope: ${body.slice(0, 200)}`);
}

function errorOf(body: string, res: IncomingMessage): TrlClientError {
  const msg = parseEnvelope(body, res);
  return clientError(msg.error ?? { code: 'INTERNAL_ERROR', message: `HTTP ${res.statusCode} without an error` });
}

function unwrap(msg: Envelope): unknown {
  if (msg.ok) return msg.data;
  throw clientError(msg.error ?? { code: 'INTERNAL_ERROR', message: 'malformed error response' });
}

/** The queue's events; leaving the loop early destroys the HTTP response. */
function closingIterable(q: EventQueue, res: IncomingMessage): AsyncIterable<StreamEvent> {
  return {
    [Symbol.asyncIterator]() {
      const it = q[Symbol.asyncIterator]();
      return {
        next: () => it.next(),
        return: () => {
          res.destroy();
          return it.return ? it.return() : Promise.resolve({ value: undefined, done: true as const });
        },
      };
    },
  };
}
