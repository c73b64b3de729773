import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeOrigin } from '../config/http-settings.js';

const ALLOW_METHODS = 'POST, GET, OPTIONS';
const ALLOW_HEADERS = 'Authorization, Content-Type';

/**
 * CORS for the HTTP API (docs/security.md): none at all unless origins are listed;
 * then a listed Origin is echoed (never `*`), with `Vary: Origin`. An
 * unlisted origin gets no Access-Control-* header, so a browser grants it nothing.
 */
export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;

  constructor(origins: string[]) {
    this.origins = new Set(origins);
  }

  get enabled(): boolean {
    return this.origins.size > 0;
  }

  /** The request's Origin if it is listed, else null. */
  allowedOrigin(req: IncomingMessage): string | null {
    const o = req.headers.origin;
    if (typeof o !== 'string' || !this.enabled) return null;
    const n = normalizeOrigin(o);
    return n !== null && this.origins.has(n) ? o : null;
  }

  /** A browser request from a page whose origin is not listed (WebSocket upgrades are refused then). */
  isForeign(req: IncomingMessage): boolean {
    return typeof req.headers.origin === 'string' && this.allowedOrigin(req) === null;
  }

  /** Headers on an actual response. */
  apply(req: IncomingMessage, res: ServerResponse): void {
    if (!this.enabled) return;
    res.setHeader('Vary', 'Origin');
    const origin = this.allowedOrigin(req);
    if (origin !== null) res.setHeader('Access-Control-Allow-Origin', origin);
  }

  /** Answer an OPTIONS request: no token needed, nothing granted to an unlisted origin. */
  preflight(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('Allow', ALLOW_METHODS);
    if (this.enabled) {
      res.setHeader('Vary', 'Origin');
      const origin = this.allowedOrigin(req);
      if (origin !== null) {
        res.setHeader('Access-Control-Allow-Origin', origin);
        res.setHeader('Access-Control-Allow-Methods', ALLOW_METHODS);
        res.setHeader('Access-Control-Allow-Headers', ALLOW_HEADERS);
        res.setHeader('Access-Control-Max-Age', '600');
      }
    }
    res.writeHead(204).end();
  }
}
