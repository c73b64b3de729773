import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Response } from '../protocol/envelope.js';
import { TrlError } from '../protocol/errors.js';
import { CorsPolicy } from './cors.js';
import type { Dispatcher } from './dispatch.js';
import { ResponseConnection, unusedConnection } from './http-connection.js';
import { byteLength, messageBody } from './message-bytes.js';
import type { HttpPlan } from './http-setup.js';
import { FILES_PATH, serveFiles } from './http-files.js';
import { RAW_OUTPUT_PATH, rawOutputRoute, serveRawOutput } from './http-raw-output.js';
import { HttpSocketGate } from './http-socket-gate.js';
import { ConnectionAdmission } from './http-admission.js';
import type { Engine } from '../runtime/engine.js';
import { StartupError } from './startup-error.js';
import type { McpRoute } from './mcp-route.js';
import { isStreamingRequest, requestIdOf, StreamSlots } from './stream-slots.js';
import { authError, WsTransport } from './ws-transport.js';
import { closeAfterAnswer, discardBody } from './unread-body.js';
import { asError } from '../tiers/shared/thrown.js';
import type { AuditLog } from '../runtime/audit-log.js';
import type { Dashboard } from '../dashboard/dashboard.js';

const RPC_PATH = '/v1/rpc';
const WS_PATH = '/v1/ws';
const MCP_PATH = '/mcp';
/**
 * How long an idle kept-alive connection stays open (Node's default is 5 s).
 * An agent's calls are often seconds apart (a model thinking between them):
 * at 5 s a client keeps reusing connections just as the daemon closes them,
 * and a request sent on one as it closes fails with ECONNRESET (fetch:
 * "other side closed"). A minute, the common proxy setting, makes that
 * rare; clients learn it from the `Keep-Alive: timeout=65` header and close
 * first.
 */
const KEEP_ALIVE_MS = 65_000;

/**
 * HTTP(S) transport (PROTOCOL §1): `POST /v1/rpc` takes one request envelope
 * and answers its response envelope (HTTP 200 for every protocol answer);
 * streaming methods answer NDJSON — the response envelope, then one event per
 * line as it happens, the body ending after `exit`/`error`. `GET /v1/ws`
 * upgrades to the WebSocket transport; GET and PUT on /v1/files move whole
 * files (http-files.ts). Every request but a CORS preflight
 * needs the bearer token.
 */
export class HttpTransport {
  private readonly server: Server;
  private readonly cors: CorsPolicy;
  private readonly slots: StreamSlots;
  private readonly ws: WsTransport;
  private readonly streams = new Set<ResponseConnection>();
  private readonly gates = new WeakMap<Socket, HttpSocketGate>();
  /** The MCP endpoint, loaded on its first request (src/server/mcp-route.ts). */
  private mcpRoute: Promise<McpRoute> | null = null;
  /** max_http_connections: idle connections make way for new ones (http-admission.ts). */
  private readonly admission: ConnectionAdmission;
  /** Whether the cap is being met (logged once per episode: a peer reconnecting in a loop writes one line). */
  private atCap = false;
  private url = '';
  /** The web dashboard (`--dashboard`), loaded by listen(). */
  private dashboard: Dashboard | null = null;

  constructor(
    private readonly plan: HttpPlan,
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
    /** For the files route (GET/PUT /v1/files). */
    private readonly engine: Engine,
    private readonly maxUploadBytes: number,
    /** For the dashboard's viewer entries (null: no --audit-log). */
    private readonly audit: AuditLog | null = null,
  ) {
    this.cors = new CorsPolicy(plan.corsOrigins);
    this.slots = new StreamSlots(plan.maxStreamsPerClient);
    this.ws = new WsTransport(dispatcher, plan.auth, this.cors, plan.maxRequestBytes, plan.maxStreamsPerClient, log);
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    const options = { noDelay: true, keepAlive: true };
    this.server = plan.tls ? createHttpsServer({ ...options, cert: plan.tls.cert, key: plan.tls.key }, onRequest) : createHttpServer(options, onRequest);
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.admission.upgraded(socket);
      this.ws.handleUpgrade(req, socket, head);
    });
    // Every open connection (WebSockets too) holds buffers: at the cap an idle one makes way, else the new one is closed.
    this.admission = new ConnectionAdmission(plan.maxConnections, {
      refused: (remote) => this.capMet(remote, 'refusing new HTTP connections: max_http_connections are open and busy; raise it (TRL_MAX_HTTP_CONNECTIONS)'),
      evicted: (remote, served) =>
        this.capMet(
          remote,
          served
            ? 'closing idle kept-alive HTTP connections to admit new ones: max_http_connections are open; raise it (TRL_MAX_HTTP_CONNECTIONS) or have clients close idle ones'
            : 'closing HTTP connections that sent no request to admit new ones: max_http_connections are open; raise it (TRL_MAX_HTTP_CONNECTIONS) if they are clients',
        ),
    });
    this.server.keepAliveTimeout = KEEP_ALIVE_MS;
    this.server.on('connection', (socket: Socket) => {
      this.admission.admit(socket);
      socket.once('close', () => {
        if (this.admission.size < plan.maxConnections) this.atCap = false;
      });
    });
  }

  /** Logs that the connection cap was met, once until a slot is free again. */
  private capMet(remote: string | undefined, message: string): void {
    if (this.atCap) return;
    this.atCap = true;
    this.log.warn({ remote, max_http_connections: this.plan.maxConnections }, message);
  }

  /** Listen; resolves with the base URL (the real port when 0 was asked for). */
  async listen(): Promise<string> {
    await this.loadDashboard();
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'EADDRINUSE'
            ? 'the port is in use'
            : err.code === 'EADDRNOTAVAIL'
              ? 'no interface has that address'
              : err.code === 'EACCES'
                ? 'permission denied (ports below 1024 need privileges)'
                : err.message;
        reject(new StartupError(`cannot listen on --http ${this.plan.host}:${this.plan.port}: ${why}; choose another address or port`));
      };
      this.server.once('error', onError);
      this.server.listen(this.plan.port, this.plan.host, () => {
        this.server.off('error', onError);
        const addr = this.server.address() as AddressInfo;
        const host = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
        this.url = `${this.plan.tls ? 'https' : 'http'}://${host}:${addr.port}`;
        resolve(this.url);
      });
    });
  }

  /** --dashboard: its page, files and WebSocket beside the API (src/dashboard/; loaded only when asked for). */
  private async loadDashboard(): Promise<void> {
    const plan = this.plan;
    if (plan.dashboard === null) return;
    const { Dashboard, DASHBOARD_WS_PATH } = await import('../dashboard/dashboard.js');
    const port = () => (this.server.address() as AddressInfo | null)?.port ?? plan.port;
    this.dashboard = new Dashboard({ plan: { ...plan, dashboard: plan.dashboard }, dispatcher: this.dispatcher, engine: this.engine, audit: this.audit, cors: this.cors, log: this.log, port });
    this.ws.addEndpoint(DASHBOARD_WS_PATH, this.dashboard);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.once('close', this.admission.requestStarted(req.socket));
    req.on('error', () => {
      /* peer went away */
    });
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (req.method === 'OPTIONS') {
      discardBody(req, res);
      this.cors.preflight(req, res);
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    // The dashboard authenticates its own requests (a cookie, or the token for a ticket) and sends no CORS headers.
    if (this.dashboard?.handles(path)) return this.dashboard.serve(req, res, path);
    this.cors.apply(req, res);
    const outcome = this.plan.auth.check(req, false);
    if (outcome !== 'ok') {
      this.log.warn(
        { remote: req.socket.remoteAddress, method: req.method, path: path.slice(0, 200), reason: outcome === 'missing' ? 'no token' : 'wrong token' },
        'refused an HTTP request: authentication failed',
      );
      this.refuse(req, res, 401, authError(outcome, false), { 'WWW-Authenticate': 'Bearer realm="trl"' });
      return;
    }
    if (path === RPC_PATH) {
      if (req.method !== 'POST') return this.refuse(req, res, 405, new TrlError('METHOD_NOT_FOUND', `${RPC_PATH} takes POST with one request envelope as the body`), { Allow: 'POST, OPTIONS' });
      return this.readBody(req, res);
    }
    if (path === FILES_PATH) {
      void serveFiles(req, res, this.engine, this.maxUploadBytes);
      return;
    }
    if (path === WS_PATH) {
      if (req.method !== 'GET')
        return this.refuse(req, res, 405, new TrlError('METHOD_NOT_FOUND', `${WS_PATH} is a WebSocket endpoint: GET with an Upgrade: websocket header`), { Allow: 'GET, OPTIONS' });
      return this.refuse(req, res, 426, new TrlError('INVALID_PARAMS', `${WS_PATH} is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)`), { Upgrade: 'websocket' });
    }
    if (path === MCP_PATH) return this.mcp(req, res);
    const raw = rawOutputRoute(path);
    if (raw) return serveRawOutput(req, res, raw, this.engine, this.slots);
    this.refuse(
      req,
      res,
      404,
      new TrlError('METHOD_NOT_FOUND', `no endpoint at ${path.slice(0, 100)}; use POST ${RPC_PATH}, GET ${WS_PATH}, GET/PUT ${FILES_PATH}, GET ${RAW_OUTPUT_PATH}, or ${MCP_PATH} (MCP)`),
    );
  }

  /** MCP over Streamable HTTP for agents, behind the same token. */
  private mcp(req: IncomingMessage, res: ServerResponse): void {
    this.mcpRoute ??= import('./mcp-route.js').then((m) => new m.McpRoute(this.dispatcher, this.plan.maxRequestBytes, this.log));
    this.mcpRoute
      .then((route) => route.handle(req, res))
      .catch((err: unknown) => {
        this.log.error({ err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'MCP request failed');
        if (!res.headersSent) this.json(res, 500, { id: null, ok: false, error: { code: 'INTERNAL_ERROR', message: 'the MCP endpoint failed; see the daemon log' } });
        else res.destroy();
      });
  }

  /** The body, capped at max_request_bytes (413 REQUEST_TOO_LARGE past it, and the connection is closed). */
  private readBody(req: IncomingMessage, res: ServerResponse): void {
    const max = this.plan.maxRequestBytes;
    const tooLarge = () => {
      this.log.warn({ remote: req.socket.remoteAddress, max_request_bytes: max }, 'HTTP request too large');
      this.refuse(req, res, 413, new TrlError('REQUEST_TOO_LARGE', `the request body is larger than ${max} bytes (max_request_bytes); send large data in smaller pieces or files`));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (over) return;
      const body = Buffer.concat(chunks, size).toString('utf8');
      this.gateOf(req.socket).push(res, () => this.rpc(req, res, body));
    });
  }

  /** The back-pressure of the request's connection (its pipelined requests). */
  private gateOf(socket: Socket): HttpSocketGate {
    let gate = this.gates.get(socket);
    if (!gate) {
      gate = new HttpSocketGate(socket);
      this.gates.set(socket, gate);
    }
    return gate;
  }

  /** Answer one request; resolves with the size of the answer (for a stream: of its first line) once it is handed to Node. */
  private async rpc(req: IncomingMessage, res: ServerResponse, body: string): Promise<number> {
    let msg: unknown;
    try {
      msg = JSON.parse(body);
    } catch (err) {
      return this.json(res, 200, this.dispatcher.badJson(asError(err)));
    }
    if (!isStreamingRequest(msg)) {
      const { response } = await this.dispatcher.handle(msg, unusedConnection(res));
      return this.json(res, 200, response);
    }
    const client = req.socket.remoteAddress ?? 'unknown';
    if (!this.slots.tryAcquire(client)) return this.json(res, 200, { id: requestIdOf(msg), ok: false, error: this.slots.error().toObject() });
    const release = this.slots.releaser(client);
    const conn: ResponseConnection = new ResponseConnection(res, () => {
      release();
      this.streams.delete(conn);
    });
    this.streams.add(conn);
    const { response, after } = await this.dispatcher.handle(msg, conn);
    if (!after) {
      const bytes = this.json(res, 200, response);
      conn.finish();
      return bytes;
    }
    let bytes = 0;
    if (!conn.closed) {
      const line = JSON.stringify(response) + '\n';
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'X-Accel-Buffering': 'no' });
      res.write(line);
      bytes = line.length;
    }
    // The client may have gone already: the stream then stops at once, the command runs on.
    after();
    return bytes;
  }

  /** Returns the body's size (0 if nothing was written). */
  private json(res: ServerResponse, status: number, body: Response, headers: Record<string, string> = {}): number {
    if (res.destroyed || res.headersSent) return 0;
    const { text, done } = messageBody(body);
    const length = byteLength(text);
    res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(length) });
    if (typeof text === 'string') res.end(text);
    else {
      // 'close' comes once the response is complete or its connection gone: the body's bytes are the kernel's or dropped.
      res.once('close', done);
      for (const part of text) res.write(part);
      res.end();
    }
    return length;
  }

  /** An error answer outside the protocol's own (401, 404, 405, 413, 426); an unread body closes the connection. */
  private refuse(req: IncomingMessage, res: ServerResponse, status: number, err: TrlError, headers: Record<string, string> = {}): void {
    closeAfterAnswer(req, res);
    this.json(res, status, { id: null, ok: false, error: err.toObject() }, headers);
  }

  /** Stop accepting; resolves once every connection has closed (see closeConnections). */
  close(): Promise<void> {
    this.ws.close();
    this.dashboard?.close();
    void this.mcpRoute?.then((route) => route.close());
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** End open streams and WebSockets, then cut whatever is left. */
  closeConnections(): void {
    for (const conn of this.streams) conn.finish();
    this.ws.closeConnections();
    this.server.closeIdleConnections();
    setTimeout(() => this.server.closeAllConnections(), 200).unref();
  }
}
