import { isIPv6 } from 'node:net';

/** Where `--http` binds. `host` is an IP literal or a name; IPv6 literals without brackets. */
export interface HttpAddress {
  host: string;
  port: number;
}

/** A bare `PORT` or `:PORT` binds loopback only: exposing trl takes an explicit host (and --allow-remote). */
export const DEFAULT_HTTP_HOST = '127.0.0.1';

function port(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

/** `HOST:PORT`, `[IPV6]:PORT`, `:PORT` or `PORT` → the address; null when malformed. Port 0 = any free port. */
export function parseHttpAddress(value: string): HttpAddress | null {
  const v = value.trim();
  // Each pattern's groups always take part in a match: the defaults only satisfy the type.
  let m = /^:?(\d+)$/.exec(v);
  if (m) {
    const [, digits = ''] = m;
    const p = port(digits);
    return p === null ? null : { host: DEFAULT_HTTP_HOST, port: p };
  }
  m = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(v);
  if (m) {
    const [, host = '', digits = ''] = m;
    const p = port(digits);
    return p === null || !isIPv6(host) ? null : { host, port: p };
  }
  m = /^([A-Za-z0-9.-]+):(\d+)$/.exec(v);
  if (m) {
    const [, host = '', digits = ''] = m;
    const p = port(digits);
    return p === null ? null : { host, port: p };
  }
  return null;
}

/** The listed origins, normalized (`https://App.example.com:443` → `https://app.example.com`). */
export function parseCorsOrigins(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0)
    .map((o) => normalizeOrigin(o) ?? o);
}

/** The origin of a URL-like string, or null if it is not `scheme://host[:port]` with nothing after. */
export function normalizeOrigin(text: string): string | null {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) return null;
  return u.origin;
}

/** What is wrong with a `--cors-origin` value, or null. `*` is refused: the API runs commands. */
export function corsOriginProblem(value: string): string | null {
  const entries = value.split(',').map((o) => o.trim());
  if (entries.every((o) => o.length === 0)) return 'list at least one origin, e.g. https://app.example.com';
  for (const o of entries) {
    if (o.length === 0) continue;
    if (o.includes('*')) {
      return "'*' is refused: any web page could then drive a daemon that runs commands; list the exact origins, e.g. https://app.example.com";
    }
    if (normalizeOrigin(o) === null) return `'${o}' is not an origin; write scheme://host[:port] with no path, e.g. https://app.example.com`;
  }
  return null;
}
