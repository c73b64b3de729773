import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { normalizeOrigin } from '../config/http-settings.js';
import { TrlError } from '../protocol/errors.js';
import type { AuditLog } from '../runtime/audit-log.js';
import type { Engine } from '../runtime/engine.js';
import type { CorsPolicy } from '../server/cors.js';
import type { Dispatcher } from '../server/dispatch.js';
import { isLoopback, type HttpPlan } from '../server/http-setup.js';
import { discardBody } from '../server/unread-body.js';
import type { WsEndpoint } from '../server/ws-transport.js';
import { loadAssets, type Asset } from './assets.js';
import { AuditTail } from './audit-tail.js';
import { DashboardFeed } from './dashboard-feed.js';
import { ownOrigin } from './own-origin.js';
import { TicketStore, TICKET_TTL_MS, type Grant } from './tickets.js';
import { ViewerDispatcher } from './viewer-dispatcher.js';
import { ViewerRegistry } from './viewer-registry.js';
import { ViewerSessions } from './viewer-sessions.js';
import { loginRefusedPage, signedOutPage } from './page.js';

export const DASHBOARD_WS_PATH = '/dashboard/ws';
const TICKET_PATH = '/dashboard/ticket';
const LOGIN_PATH = '/dashboard/login';
const MAX_TICKET_BODY = 4096;

export interface DashboardDeps {
  plan: HttpPlan & { dashboard: NonNullable<HttpPlan['dashboard']> };
  dispatcher: Dispatcher;
  engine: Engine;
  audit: AuditLog | null;
  cors: CorsPolicy;
  log: Logger;
  /** The port the daemon listens on (known once it does). */
  port: () => number;
}

type Refusal = { refuse: { status: number; reason: string; error: TrlError } };

/**
 * The live web dashboard (docs/dashboard.md): one page and its files at
 * /dashboard, tickets for browsers, and the page's WebSocket. Served beside
 * the API on the `--http` address; everything it shows comes from the
 * engine's own answers and streams, pushed over the WebSocket machinery of
 * /v1/ws.
 */
export class Dashboard implements WsEndpoint {
  private readonly assets: Map<string, Asset>;
  private readonly csp: string;
  private readonly tickets = new TicketStore();
  private readonly sessions: ViewerSessions;
  private readonly viewers: ViewerRegistry;
  private readonly feed: DashboardFeed;

  constructor(private readonly d: DashboardDeps) {
    ({ files: this.assets, csp: this.csp } = loadAssets());
    this.sessions = new ViewerSessions(d.plan.tls !== null);
    this.viewers = new ViewerRegistry(d.plan.dashboard.maxViewers, d.audit);
    this.feed = new DashboardFeed(d.engine, new AuditTail(d.plan.dashboard.auditLog), d.dispatcher.answered);
  }

  /** The daemon is stopping (HttpTransport.close): the open pages' disconnections are recorded while the audit log is open. */
  close(): void {
    this.viewers.removeAll();
  }

  /** Whether a path is the dashboard's (it is then served before the bearer-token check: it has its own). */
  handles(path: string): boolean {
    return path === '/dashboard' || path.startsWith('/dashboard/');
  }

  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (path === TICKET_PATH) return this.mintTicket(req, res);
    discardBody(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.text(res, 405, 'the dashboard takes GET (POST /dashboard/ticket with the bearer token for a ticket)', { Allow: 'GET' });
    const origin = this.origin(req);
    if (origin === null) return this.text(res, 421, 'this Host is not one the dashboard is served on; open the URL that `trl dashboard` prints');
    if (path === LOGIN_PATH) return this.login(req, res, origin);
    const asset = this.assets.get(path);
    if (asset === undefined) return this.text(res, 404, `no dashboard file at ${path.slice(0, 100)}`);
    if (path === '/dashboard') {
      const session = this.sessions.find(req);
      if (session === null || session.origin !== origin) return this.html(res, 401, signedOutPage());
      return this.html(res, 200, asset.body);
    }
    res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': String(asset.body.length) });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }

  /** The WebSocket of /dashboard/ws: own origin (or a --cors-origin), a live cookie, a free viewer place. */
  admit(req: IncomingMessage): ReturnType<WsEndpoint['admit']> {
    const remote = req.socket.remoteAddress ?? '';
    const refuse = (status: number, reason: string, why: string, message: string): Refusal => {
      this.d.log.warn({ remote, origin: String(req.headers.origin ?? '').slice(0, 200), why }, 'refused a dashboard WebSocket');
      return { refuse: { status, reason, error: new TrlError(status === 503 ? 'RESOURCE_PRESSURE' : 'AUTH_FAILED', message) } };
    };
    if (!this.d.plan.remote && !isLoopback(remote))
      return refuse(403, 'Forbidden', 'remote peer', 'the dashboard is served to this machine only; start the daemon with --allow-remote on a reachable address');
    const origin = this.origin(req);
    if (origin === null) return refuse(403, 'Forbidden', 'host', 'this Host is not one the dashboard is served on');
    const from = typeof req.headers.origin === 'string' ? normalizeOrigin(req.headers.origin) : null;
    if (from === null || (from !== origin && this.d.cors.allowedOrigin(req) === null)) {
      return refuse(403, 'Forbidden', 'origin', "this page's origin may not open the dashboard's WebSocket (only the daemon's own origin and --cors-origin)");
    }
    const session = this.sessions.find(req);
    if (session === null || session.origin !== origin) return refuse(401, 'Unauthorized', 'no session', 'not signed in to the dashboard: run `trl dashboard` for a fresh link');
    if (this.viewers.full) return refuse(503, 'Service Unavailable', 'viewer cap', `${this.viewers.max} dashboard pages are open (--dashboard-max-viewers); close one or raise the cap`);
    return {
      handler: new ViewerDispatcher(this.d.engine, this.d.dispatcher, session, this.d.audit),
      opened: (conn) => {
        const viewer = this.viewers.add(session, remote);
        conn.onClose(() => this.viewers.remove(viewer));
        this.d.log.info({ remote, viewer: session.id, grant: session.grant }, 'dashboard viewer connected');
        conn.send({ event: 'hello', data: { viewer: session.id, grant: session.grant, audit_log: this.d.plan.dashboard.auditLog !== null } });
        this.feed.add(conn);
      },
    };
  }

  private origin(req: IncomingMessage): string | null {
    return ownOrigin(req, this.d.plan.tls !== null, this.d.port(), !this.d.plan.remote);
  }

  /** POST /dashboard/ticket with the bearer token: `{"write"?: bool, "ttl_s"?: n}` → a one-use login URL. */
  private mintTicket(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'POST') {
      discardBody(req, res);
      return this.json(res, 405, { ok: false, error: { code: 'METHOD_NOT_FOUND', message: 'POST /dashboard/ticket with the bearer token' } });
    }
    const outcome = this.d.plan.auth.check(req, false);
    if (outcome !== 'ok') {
      discardBody(req, res);
      this.d.log.warn({ remote: req.socket.remoteAddress, reason: outcome }, 'refused a dashboard ticket: authentication failed');
      return this.json(res, 401, { ok: false, error: { code: 'AUTH_FAILED', message: 'a dashboard ticket needs `Authorization: Bearer <TRL_AUTH_TOKEN>`' } });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_TICKET_BODY) chunks.push(c);
    });
    req.on('end', () => {
      let body: { write?: unknown; ttl_s?: unknown } = {};
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        if (size > MAX_TICKET_BODY) throw new Error('too large');
        if (text.trim() !== '') body = JSON.parse(text) as typeof body;
      } catch {
        return this.json(res, 400, { ok: false, error: { code: 'INVALID_PARAMS', message: 'the body must be JSON like {"write": false, "ttl_s": 60}' } });
      }
      const grant: Grant = body.write === true ? 'write' : 'read';
      if (grant === 'write' && !this.d.plan.dashboard.write) {
        return this.json(res, 403, {
          ok: false,
          error: { code: 'PERMISSION_DENIED', message: 'this daemon gives the dashboard no write grant; start it with --dashboard-write (TRL_DASHBOARD_WRITE=1) to allow `trl dashboard --write`' },
        });
      }
      const ttlMs = typeof body.ttl_s === 'number' && body.ttl_s > 0 ? body.ttl_s * 1000 : TICKET_TTL_MS;
      const { ticket, expiresAt } = this.tickets.mint(grant, ttlMs);
      this.d.audit?.write({ method: 'dashboard.ticket', grant, remote: req.socket.remoteAddress });
      this.json(res, 200, { ok: true, data: { login_path: `${LOGIN_PATH}?ticket=${ticket}`, grant, expires_at: new Date(expiresAt).toISOString() } });
    });
  }

  /** GET /dashboard/login?ticket=… → the session cookie and the page, once. */
  private login(req: IncomingMessage, res: ServerResponse, origin: string): void {
    const ticket = new URL(req.url ?? '/', 'http://x').searchParams.get('ticket') ?? '';
    const r = this.tickets.redeem(ticket);
    if ('refused' in r) {
      this.d.log.warn({ remote: req.socket.remoteAddress, why: r.refused }, 'refused a dashboard ticket');
      return this.html(res, 403, loginRefusedPage(r.refused));
    }
    const { session, setCookie } = this.sessions.open(r.grant, origin);
    this.d.audit?.write({ method: 'dashboard.login', viewer: session.id, grant: session.grant, remote: req.socket.remoteAddress, origin });
    res.writeHead(303, { Location: '/dashboard', 'Set-Cookie': setCookie, 'Content-Length': '0' });
    res.end();
  }

  private html(res: ServerResponse, status: number, body: string | Buffer): void {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(b.length),
      'Content-Security-Policy': this.csp,
      'X-Frame-Options': 'DENY',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
    res.end(b);
  }

  private text(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(message + '\n');
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
    res.end(text);
  }
}
