import { randomUUID } from 'node:crypto';
import { createMcpHandler, isInitializeRequest, isLegacyRequest, WebStandardStreamableHTTPServerTransport, type McpHttpHandler } from '@modelcontextprotocol/server';
import type { TrlCaller } from './caller.js';
import { buildMcpServer } from './mcp-server.js';
import { McpScope } from './scope.js';
import type { SessionSettings } from './session-settings.js';

/** An MCP session of the 2025 protocol is closed after this long without a request... */
const LEGACY_IDLE_MS = 60 * 60 * 1000;
const SWEEP_EVERY_MS = 60 * 1000;
/** ...and the least recently used one is closed past this many. */
const MAX_LEGACY_SESSIONS = 256;

interface LegacySession {
  transport: WebStandardStreamableHTTPServerTransport;
  scope: McpScope;
  lastSeen: number;
}

export interface EndpointOptions {
  maxRequestBytes: number;
  onError: (err: Error) => void;
}

/**
 * MCP over Streamable HTTP, both protocol eras. The 2026-07-28 protocol is
 * stateless: each request gets a fresh server over one scope shared by the
 * endpoint (sessions are named by the model and live until the daemon's idle
 * timeout). A 2025 client opens an MCP session (Mcp-Session-Id): it gets a
 * scope of its own, whose trl sessions are destroyed when it closes (DELETE)
 * or goes idle.
 */
export class McpHttpEndpoint {
  private readonly stateless: McpScope;
  private readonly modern: McpHttpHandler;
  private readonly legacy = new Map<string, LegacySession>();
  /** Idle sessions close on their own, not only when another client opens one. */
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly caller: TrlCaller,
    private readonly settings: SessionSettings,
    private readonly opts: EndpointOptions,
  ) {
    this.stateless = new McpScope(caller, settings, 'http', false);
    this.modern = createMcpHandler(() => buildMcpServer(this.stateless), { legacy: 'reject', maxRequestBodySize: opts.maxRequestBytes, onerror: opts.onError });
    this.sweeper = setInterval(() => this.sweep(false), SWEEP_EVERY_MS).unref();
  }

  async fetch(request: Request): Promise<Response> {
    if (!(await isLegacyRequest(request, undefined, { maxRequestBodySize: this.opts.maxRequestBytes }))) return this.modern.fetch(request);
    const id = request.headers.get('mcp-session-id');
    if (id !== null) {
      const session = this.legacy.get(id);
      if (!session) return rpcError(404, -32001, 'Session not found: it was closed or has expired; open a new one with an initialize request');
      session.lastSeen = Date.now();
      return session.transport.handleRequest(request);
    }
    const body: unknown =
      request.method === 'POST'
        ? await request
            .clone()
            .json()
            .catch(() => undefined)
        : undefined;
    if (!isInitializeRequest(body)) return rpcError(400, -32000, 'Bad Request: no Mcp-Session-Id header; open a session with an initialize request first');
    return this.open(request, body);
  }

  /** A new 2025 MCP session: its own scope and server. */
  private async open(request: Request, body: unknown): Promise<Response> {
    this.sweep(true);
    const scope = McpScope.forConnection(this.caller, this.settings);
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: this.opts.maxRequestBytes,
      onsessioninitialized: (sid) => void this.legacy.set(sid, { transport, scope, lastSeen: Date.now() }),
      onsessionclosed: (sid) => this.closeSession(sid),
    });
    await buildMcpServer(scope).connect(transport);
    return transport.handleRequest(request, { parsedBody: body });
  }

  private closeSession(id: string): Promise<void> {
    const s = this.legacy.get(id);
    if (!s) return Promise.resolve();
    this.legacy.delete(id);
    return Promise.all([s.transport.close().catch(this.opts.onError), s.scope.destroyAll().catch(this.opts.onError)]).then(() => undefined);
  }

  /** Close sessions idle too long, and (making room for a new one) the least recently used past the maximum. */
  private sweep(makeRoom: boolean): void {
    const now = Date.now();
    for (const [id, s] of this.legacy) if (now - s.lastSeen > LEGACY_IDLE_MS) void this.closeSession(id);
    while (makeRoom && this.legacy.size >= MAX_LEGACY_SESSIONS) {
      const oldest = [...this.legacy].sort((a, b) => a[1].lastSeen - b[1].lastSeen)[0];
      if (!oldest) break;
      void this.closeSession(oldest[0]);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.legacy.keys()].map((id) => this.closeSession(id)));
    await this.modern.close().catch(this.opts.onError);
  }
}

function rpcError(status: number, code: number, message: string): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), { status, headers: { 'Content-Type': 'application/json' } });
}
