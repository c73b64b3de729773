import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { StartupError } from './startup-error.js';

/** The variable that holds the HTTP bearer token. Never a flag: flags show in `ps`. */
export const AUTH_TOKEN_ENV = 'TRL_AUTH_TOKEN';
export const MIN_TOKEN_LENGTH = 32;
/** The WebSocket subprotocol a browser offers beside `bearer.<token>`; the server selects it. */
export const WS_PROTOCOL = 'trl.v1';
export const WS_BEARER_PREFIX = 'bearer.';

const HOW_TO_MAKE = `generate one with \`openssl rand -hex 32\` (or node -e "console.log(require('crypto').randomBytes(32).toString('hex'))") and export it as ${AUTH_TOKEN_ENV} in the daemon's environment`;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Holds the token's digest only and compares in constant time: both sides are
 * hashed first, so neither the content nor the length of the token leaks
 * through timing. The token itself is never logged nor returned.
 */
export class BearerAuth {
  private readonly expected: Buffer;

  private constructor(token: string) {
    this.expected = digest(token);
  }

  /** The token from the environment, or a StartupError that says how to make one. */
  static fromEnv(env: NodeJS.ProcessEnv): BearerAuth {
    const token = env[AUTH_TOKEN_ENV];
    if (token === undefined || token.length === 0) {
      throw new StartupError(`HTTP mode needs a bearer token and ${AUTH_TOKEN_ENV} is not set; ${HOW_TO_MAKE}`);
    }
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new StartupError(`${AUTH_TOKEN_ENV} is ${token.length} characters long; HTTP mode needs at least ${MIN_TOKEN_LENGTH}; ${HOW_TO_MAKE}`);
    }
    if (/\s/.test(token)) throw new StartupError(`${AUTH_TOKEN_ENV} contains whitespace, which an Authorization header cannot carry; ${HOW_TO_MAKE}`);
    return new BearerAuth(token);
  }

  matches(presented: string | null): boolean {
    if (presented === null) return false;
    return timingSafeEqual(digest(presented), this.expected);
  }

  /** Whether the request carries the token (Authorization: Bearer, or for WebSocket upgrades the `bearer.` subprotocol). */
  check(req: IncomingMessage, allowSubprotocol: boolean): 'ok' | 'missing' | 'wrong' {
    const presented = bearerOf(req) ?? (allowSubprotocol ? subprotocolToken(req) : null);
    if (presented === null) return 'missing';
    return this.matches(presented) ? 'ok' : 'wrong';
  }
}

/** `Authorization: Bearer <token>` (scheme case-insensitive), or null. */
export function bearerOf(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1] ?? null;
}

/** The offered WebSocket subprotocols, in order. */
export function offeredProtocols(req: IncomingMessage): string[] {
  const h = req.headers['sec-websocket-protocol'];
  if (typeof h !== 'string') return [];
  return h
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** `Sec-WebSocket-Protocol: trl.v1, bearer.<token>` (browsers cannot set Authorization on a WebSocket). */
export function subprotocolToken(req: IncomingMessage): string | null {
  const p = offeredProtocols(req).find((x) => x.startsWith(WS_BEARER_PREFIX));
  return p === undefined ? null : p.slice(WS_BEARER_PREFIX.length);
}
