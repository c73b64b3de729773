import type WebSocket from 'ws';
import type { ErrorObject } from '../protocol/errors.js';
import { MessageRouter, RoutedClient } from './message-router.js';
import { clientError, TrlErrors } from './client-error.js';

export interface WsClientOptions {
  /** `ws://HOST:PORT` or `wss://…` (the path /v1/ws is added when missing); `http(s)://` works too. */
  url: string;
  /** The daemon's TRL_AUTH_TOKEN; default: TRL_AUTH_TOKEN from this process's environment. */
  token?: string;
  /** Extra CA certificate(s) to trust for wss:// (e.g. the daemon's self-signed certificate). */
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
}

function closedError(message: string): InstanceType<typeof TrlErrors.CONNECTION_CLOSED> {
  return new TrlErrors.CONNECTION_CLOSED(message);
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
export class TrlWsClient extends RoutedClient {
  protected readonly router: MessageRouter;

  private constructor(
    private readonly ws: WebSocket,
    private readonly options: WsClientOptions,
  ) {
    super();
    this.router = new MessageRouter((message) => ws.send(message));
    ws.on('message', (data: WebSocket.RawData) => this.router.receive(textOf(data)));
    ws.on('close', (code, reason) => this.router.failAll(`the WebSocket to the trl daemon closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`));
    ws.on('error', (err) => this.router.failAll(`WebSocket error: ${err.message}`));
  }

  static async connect(options: WsClientOptions): Promise<TrlWsClient> {
    const url = wsUrlOf(options.url);
    const token = options.token ?? process.env.TRL_AUTH_TOKEN;
    if (!token) throw closedError("no token: pass `token` (the daemon's TRL_AUTH_TOKEN) or set TRL_AUTH_TOKEN");
    // Loaded on first use, so that a program using only the Unix socket or HTTP never loads it.
    const { default: WebSocket } = await import('ws');
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
          reject(clientError(error ?? { code: 'CONNECTION_CLOSED', message: `the daemon refused the WebSocket with HTTP ${res.statusCode}` }));
          ws.terminate();
        });
      });
      ws.once('error', onError);
      ws.once('open', () => {
        ws.off('error', onError);
        resolve(new TrlWsClient(ws, { ...options, token }));
      });
    });
  }

  protected reconnect(): Promise<TrlWsClient> {
    return TrlWsClient.connect(this.options);
  }

  close(): void {
    this.closedByUser = true;
    this.ws.close(1000);
    this.router.failAll('this client is closed');
  }
}

/** A message's text, whichever form the socket delivered it in (one buffer, fragments, an ArrayBuffer). */
function textOf(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
}
