import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { TrlError } from '../protocol/errors.js';
import { offeredProtocols, WS_BEARER_PREFIX, WS_PROTOCOL, type BearerAuth } from './auth.js';
import type { Connection } from './connection.js';
import type { CorsPolicy } from './cors.js';
import type { Dispatcher } from './dispatch.js';
import { MAX_IN_FLIGHT, RequestGate } from './request-gate.js';
import { finalEventOf, finalEventOfLine, isStreamingRequest, requestIdOf, StreamSlots } from './stream-slots.js';
import { WsConnection } from './ws-connection.js';
import { asError } from '../tiers/shared/thrown.js';

/** A peer that has not answered a ping within this long is gone: its streams are released. */
const HEARTBEAT_MS = 30_000;
const CLOSE_TOO_LARGE = 1009;

/** What the heartbeat knows of a socket's reading since its last beat. */
interface ReadWatch {
  gate: RequestGate<string>;
  /** Its reading was held back at some point (a pong may wait unread). */
  held: boolean;
  /** Some of our messages reached the kernel. */
  outputMoved: boolean;
}

function tooLargeError(maxBytes: number): TrlError {
  return new TrlError('REQUEST_TOO_LARGE', `a WebSocket message is larger than ${maxBytes} bytes (max_request_bytes); send large data in smaller pieces or files`);
}

/**
 * `ws` closes a socket with 1009 as soon as a frame header announces more than
 * `maxPayload` bytes, before buffering it. This subclass puts the protocol's
 * REQUEST_TOO_LARGE answer in front of that close, as the Unix socket does.
 */
function socketClass(maxBytes: number): typeof WebSocket {
  return class TrlWebSocket extends WebSocket {
    override close(code?: number, reason?: string | Buffer): void {
      if (code === CLOSE_TOO_LARGE && this.readyState === WebSocket.OPEN) {
        this.send(JSON.stringify({ id: null, ok: false, error: tooLargeError(maxBytes).toObject() }));
        super.close(CLOSE_TOO_LARGE, 'REQUEST_TOO_LARGE');
        return;
      }
      super.close(code, reason);
    }
  };
}

/** What answers one socket's requests: the daemon's Dispatcher, or a narrower one (a dashboard viewer's). */
export type RequestHandler = Pick<Dispatcher, 'handle' | 'badJson'>;

/**
 * Another WebSocket path served by this machinery that admits its sockets
 * itself instead of by bearer token (the dashboard's, src/dashboard/).
 */
export interface WsEndpoint {
  admit(req: IncomingMessage): { refuse: { status: number; reason: string; error: TrlError } } | { handler: RequestHandler; opened: (conn: Connection) => void };
}

/**
 * A refusal written on the raw socket before any upgrade, and then the socket
 * destroyed: once Node hands a request to the upgrade handler, no HTTP timeout
 * applies to its socket any more, and a half-closed one would hold its slot of
 * `max_http_connections` for as long as the peer kept it open (256 refused
 * upgrades, no token needed, locked every client out).
 */
function refuseUpgrade(socket: Duplex, status: number, reason: string, error: TrlError, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ id: null, ok: false, error: error.toObject() });
  const head = [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  // The refusal is a few hundred bytes on a fresh socket: it is in the kernel's buffer at once ('finish'), as in
  // ws's own abortHandshake; a socket that fails first closes by itself.
  socket.once('finish', () => socket.destroy());
  socket.end(head.join('\r\n') + '\r\n\r\n' + body);
}

/**
 * WebSocket on GET /v1/ws (PROTOCOL §1): the token is checked on the upgrade
 * request; then each text frame carries exactly what one NDJSON line carries
 * on the Unix socket, in both directions — pipelined requests, responses by
 * id, events of the streams opened on this socket.
 */
export class WsTransport {
  private readonly wss: WebSocketServer;
  private readonly slots: StreamSlots;
  private readonly alive = new WeakMap<WebSocket, boolean>();
  private readonly reading = new WeakMap<WebSocket, ReadWatch>();
  private readonly heartbeat: NodeJS.Timeout;
  private nextId = 1;
  /** Paths other than /v1/ws, each admitting its own sockets (addEndpoint). */
  private readonly endpoints = new Map<string, WsEndpoint>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly auth: BearerAuth,
    private readonly cors: CorsPolicy,
    maxRequestBytes: number,
    maxStreams: number,
    private readonly log: Logger,
  ) {
    this.slots = new StreamSlots(maxStreams);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: maxRequestBytes,
      perMessageDeflate: false,
      // Never echo the `bearer.<token>` protocol back; a browser that used it also offers trl.v1.
      handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
      WebSocket: socketClass(maxRequestBytes),
    });
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  addEndpoint(path: string, endpoint: WsEndpoint): void {
    this.endpoints.set(path, endpoint);
  }

  /** The HTTP server's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {
      /* peer went away */
    });
    const path = (req.url ?? '/').split('?')[0];
    const remote = req.socket.remoteAddress;
    const endpoint = path === undefined ? undefined : this.endpoints.get(path);
    if (endpoint) {
      const admitted = endpoint.admit(req);
      if ('refuse' in admitted) return refuseUpgrade(socket, admitted.refuse.status, admitted.refuse.reason, admitted.refuse.error);
      this.wss.handleUpgrade(req, socket, head, (ws) => admitted.opened(this.onSocket(ws, remote, admitted.handler)));
      return;
    }
    const outcome = this.auth.check(req, true);
    if (outcome !== 'ok') {
      this.log.warn({ remote, transport: 'websocket', reason: outcome === 'missing' ? 'no token' : 'wrong token' }, 'refused a WebSocket upgrade: authentication failed');
      refuseUpgrade(socket, 401, 'Unauthorized', authError(outcome, true), { 'WWW-Authenticate': 'Bearer realm="trl"' });
      return;
    }
    if (path !== '/v1/ws') {
      refuseUpgrade(socket, 404, 'Not Found', new TrlError('METHOD_NOT_FOUND', `no WebSocket endpoint at ${path?.slice(0, 100)}; connect to /v1/ws`));
      return;
    }
    if (this.cors.isForeign(req)) {
      this.log.warn({ remote, origin: String(req.headers.origin).slice(0, 200) }, 'refused a WebSocket upgrade from an origin not in cors_origin');
      refuseUpgrade(socket, 403, 'Forbidden', new TrlError('AUTH_FAILED', "this page's origin is not listed in the daemon's --cors-origin; add it there to connect from a browser"));
      return;
    }
    const offered = offeredProtocols(req);
    if (offered.some((p) => p.startsWith(WS_BEARER_PREFIX)) && !offered.includes(WS_PROTOCOL)) {
      refuseUpgrade(
        socket,
        400,
        'Bad Request',
        new TrlError('INVALID_PARAMS', `offer the subprotocol '${WS_PROTOCOL}' beside 'bearer.<token>' (e.g. new WebSocket(url, ['${WS_PROTOCOL}', 'bearer.' + token]))`),
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, remote, this.dispatcher));
  }

  private onSocket(ws: WebSocket, remote: string | undefined, handler: RequestHandler): WsConnection {
    const client = `ws-${this.nextId++}`;
    const open = new Map<string, () => void>();
    this.alive.set(ws, true);
    // Each open stream listens for 'close': as many as the requests a socket may have in flight.
    ws.setMaxListeners(MAX_IN_FLIGHT + 8);
    ws.on('pong', () => this.alive.set(ws, true));
    ws.on('error', () => {
      /* surfaces as close */
    });
    const conn = new WsConnection(
      ws,
      (message, line) => {
        const id = message !== null ? finalEventOf(message) : finalEventOfLine(line ?? '');
        if (id === null) return;
        open.get(id)?.();
        open.delete(id);
      },
      () => {
        watch.outputMoved = true;
        gate.kick();
      },
    );
    const pause = () => {
      watch.held = true;
      ws.pause();
    };
    // `bufferedAmount` counts both the frames `ws` still queues and the bytes waiting in the socket.
    const gate = new RequestGate<string>({ unsent: () => ws.bufferedAmount, pause, resume: () => ws.resume() }, (text) => this.answer(text, client, conn, open, handler));
    const watch: ReadWatch = { gate, held: false, outputMoved: false };
    this.reading.set(ws, watch);
    ws.on('close', () => {
      gate.close();
      for (const release of open.values()) release();
      open.clear();
    });
    this.log.debug({ remote, client }, 'WebSocket connected');
    ws.on('message', (data: RawData) => {
      gate.push((Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8'));
    });
    return conn;
  }

  /** One request message; resolves with the answer's size once it (for a stream: its last event) has been handed to the socket. */
  private async answer(text: string, client: string, conn: WsConnection, open: Map<string, () => void>, handler: RequestHandler): Promise<number> {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      return conn.send(handler.badJson(asError(err)));
    }
    if (!isStreamingRequest(msg)) return conn.send((await handler.handle(msg, conn)).response);
    if (!this.slots.tryAcquire(client)) return conn.send({ id: requestIdOf(msg), ok: false, error: this.slots.error().toObject() });
    const release = this.slots.releaser(client);
    const { response, after } = await handler.handle(msg, conn);
    const streamId = response.ok ? (response.data as { stream_id?: unknown }).stream_id : undefined;
    if (after && typeof streamId === 'string' && !conn.closed) open.set(streamId, release);
    else release();
    const bytes = conn.send(response);
    if (after) await new Promise<void>((resolve) => after(resolve));
    return bytes;
  }

  private beat(): void {
    for (const ws of this.wss.clients) {
      const watch = this.reading.get(ws);
      // While its requests were held back its pong waited, unread, behind them: then the peer taking
      // our output (or waiting on its own long-polls) shows it is there. A peer that reads nothing
      // stops taking output once the kernel's buffers are full, and goes at the next beat.
      const excused = watch !== undefined && (watch.held || watch.gate.holding) && (watch.outputMoved || watch.gate.heldByInFlight);
      if (watch) watch.held = watch.outputMoved = false;
      if (this.alive.get(ws) === false && !excused) {
        ws.terminate();
        continue;
      }
      this.alive.set(ws, false);
      ws.ping();
    }
  }

  /** Ask every client to go (1001), then cut whoever is left. */
  closeConnections(): void {
    clearInterval(this.heartbeat);
    for (const ws of this.wss.clients) ws.close(1001, 'trl is shutting down');
    setTimeout(() => {
      for (const ws of this.wss.clients) ws.terminate();
    }, 200).unref();
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.wss.close();
  }
}

/** AUTH_FAILED with a message that says what to send (never the token). */
export function authError(outcome: 'missing' | 'wrong', websocket: boolean): TrlError {
  const how = websocket
    ? "send `Authorization: Bearer <TRL_AUTH_TOKEN>` on the upgrade request (browsers: offer the subprotocols 'trl.v1' and 'bearer.<token>')"
    : 'send `Authorization: Bearer <TRL_AUTH_TOKEN>` with every request';
  return new TrlError('AUTH_FAILED', outcome === 'missing' ? `this request carries no bearer token; ${how}` : `the bearer token is wrong; ${how}`);
}
