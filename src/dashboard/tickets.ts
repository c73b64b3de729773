import { createHash, randomBytes } from 'node:crypto';

/** What a viewer may do: watch only, or also type, signal and cancel (`--dashboard-write` and `trl dashboard --write`). */
export type Grant = 'read' | 'write';

/** How long a ticket may wait to be redeemed: long enough to open a browser, short enough to be useless later. */
export const TICKET_TTL_MS = 60_000;
/** Unredeemed tickets kept at most (a token holder minting in a loop cannot grow the daemon). */
const MAX_TICKETS = 64;

interface Ticket {
  grant: Grant;
  expiresAt: number;
}

/**
 * Short-lived, single-use tickets that a bearer-token holder mints (POST
 * /dashboard/ticket, `trl dashboard`) and a browser trades once for a
 * session cookie (GET /dashboard/login). Only digests are kept; a redeemed
 * or expired ticket is gone, so a second use finds nothing.
 */
export class TicketStore {
  private readonly tickets = new Map<string, Ticket>();
  /** Digests of redeemed and expired tickets for a while: a reuse or a late click is told apart from a stranger's guess. */
  private readonly gone = new Map<string, { why: 'expired' | 'used'; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A new ticket; `ttlMs` may only shorten the default lifetime. */
  mint(grant: Grant, ttlMs = TICKET_TTL_MS): { ticket: string; expiresAt: number } {
    this.sweep();
    if (this.tickets.size >= MAX_TICKETS) {
      const oldest = this.tickets.keys().next().value;
      if (oldest !== undefined) this.tickets.delete(oldest);
    }
    const ticket = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + Math.min(Math.max(ttlMs, 1), TICKET_TTL_MS);
    this.tickets.set(digest(ticket), { grant, expiresAt });
    return { ticket, expiresAt };
  }

  /** The grant, once; or why not. */
  redeem(ticket: string): { grant: Grant } | { refused: 'unknown' | 'expired' | 'used' } {
    const key = digest(ticket);
    const t = this.tickets.get(key);
    this.tickets.delete(key);
    if (t === undefined) {
      this.sweep();
      return { refused: this.gone.get(key)?.why ?? 'unknown' };
    }
    const now = this.now();
    const why = t.expiresAt <= now ? 'expired' : 'used';
    this.remember(key, why, now);
    return why === 'expired' ? { refused: 'expired' } : { grant: t.grant };
  }

  private remember(key: string, why: 'expired' | 'used', now: number): void {
    if (this.gone.size >= 4 * MAX_TICKETS) {
      const oldest = this.gone.keys().next().value;
      if (oldest !== undefined) this.gone.delete(oldest);
    }
    this.gone.set(key, { why, until: now + 10 * TICKET_TTL_MS });
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, t] of this.tickets) {
      if (t.expiresAt > now) continue;
      this.tickets.delete(k);
      this.remember(k, 'expired', now);
    }
    for (const [k, g] of this.gone) if (g.until <= now) this.gone.delete(k);
  }
}

export function digest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}
