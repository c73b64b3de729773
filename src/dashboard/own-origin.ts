import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { isLoopback } from '../server/http-setup.js';

/**
 * The daemon's own origin as a request names it (`scheme://Host`), or null
 * when the Host header is not one the daemon answers the dashboard on. On a
 * loopback bind only loopback names count: a page on another site that
 * rebinds its own name to 127.0.0.1 (DNS rebinding) gets nothing.
 */
export function ownOrigin(req: IncomingMessage, tls: boolean, port: number, loopbackOnly: boolean): string | null {
  const host = req.headers.host;
  if (typeof host !== 'string' || host.length === 0 || host.length > 300) return null;
  let url: URL;
  try {
    url = new URL(`${tls ? 'https' : 'http'}://${host}`);
  } catch {
    return null;
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return null;
  const hostPort = url.port === '' ? (tls ? 443 : 80) : Number(url.port);
  if (hostPort !== port) return null;
  if (loopbackOnly && !isLoopbackName(url.hostname)) return null;
  return url.origin;
}

function isLoopbackName(hostname: string): boolean {
  if (hostname === 'localhost') return true;
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) !== 0 && isLoopback(bare);
}
