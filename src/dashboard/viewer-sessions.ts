import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { digest, type Grant } from './tickets.js';

/** How long a dashboard cookie lasts: a working day; then `trl dashboard` again. */
export const VIEWER_SESSION_MS = 12 * 60 * 60 * 1000;
const MAX_SESSIONS = 256;

export interface ViewerSession {
  /** A short id for the audit log and the daemon's log (not the cookie). */
  id: string;
  grant: Grant;
  /** The origin the ticket was redeemed on: the cookie only counts there. */
  origin: string;
  expiresAt: number;
}

/**
 * The browser sessions a redeemed ticket opens, keyed by the digest of their
 * cookie. The cookie is HttpOnly (no script reads it), SameSite=Strict (no
 * other site's page sends it), host-only and Path=/dashboard; under TLS it
 * is Secure and `__Host-`-prefixed so that no other host can set it.
 */
export class ViewerSessions {
  private readonly sessions = new Map<string, ViewerSession>();
  private seq = 0;

  constructor(
    private readonly tls: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  get cookieName(): string {
    return this.tls ? '__Host-trl_dashboard' : 'trl_dashboard';
  }

  /** A new session; returns its Set-Cookie header value. */
  open(grant: Grant, origin: string): { session: ViewerSession; setCookie: string } {
    this.sweep();
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const secret = randomBytes(32).toString('base64url');
    const session: ViewerSession = { id: `viewer-${++this.seq}`, grant, origin, expiresAt: this.now() + VIEWER_SESSION_MS };
    this.sessions.set(digest(secret), session);
    // `__Host-` cookies must have Path=/; the plain one is kept to the dashboard's paths.
    const path = this.tls ? '/' : '/dashboard';
    const attrs = [`${this.cookieName}=${secret}`, 'HttpOnly', 'SameSite=Strict', `Path=${path}`, `Max-Age=${Math.floor(VIEWER_SESSION_MS / 1000)}`];
    if (this.tls) attrs.push('Secure');
    return { session, setCookie: attrs.join('; ') };
  }

  /** The live session the request's cookie names, or null. */
  find(req: IncomingMessage): ViewerSession | null {
    const secret = cookieValue(req.headers.cookie, this.cookieName);
    if (secret === null) return null;
    const s = this.sessions.get(digest(secret));
    if (s === undefined) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(digest(secret));
      return null;
    }
    return s;
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
  }
}

/** One cookie's value from a Cookie header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
