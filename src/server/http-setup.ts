import { BlockList, isIP } from 'node:net';
import type { Config } from '../config/config-schema.js';
import { parseCorsOrigins, parseHttpAddress } from '../config/http-settings.js';
import { BearerAuth } from './auth.js';
import { StartupError } from './startup-error.js';
import type { TlsFiles } from './tls.js';
import { errnoCode, errorMessage } from '../tiers/shared/thrown.js';

/** Everything the HTTP transport needs, checked before anything listens. */
export interface HttpPlan {
  host: string;
  port: number;
  /** The host is not loopback (allowed by --allow-remote). */
  remote: boolean;
  tls: TlsFiles | null;
  auth: BearerAuth;
  corsOrigins: string[];
  maxRequestBytes: number;
  maxStreamsPerClient: number;
  /** Open HTTP connections (WebSockets included) at most. */
  maxConnections: number;
  /** The web dashboard (`--dashboard`, src/dashboard/), or null. */
  dashboard: { write: boolean; maxViewers: number; auditLog: string | null } | null;
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

export function isLoopback(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return loopback.check(address, 'ipv4');
  if (family === 6) return loopback.check(address, 'ipv6');
  return false;
}

/** Every address a host name stands for must be loopback for it to count as local. */
async function hostIsLoopback(host: string): Promise<boolean> {
  if (isIP(host)) return isLoopback(host);
  let addresses: { address: string }[];
  try {
    const { lookup } = await import('node:dns/promises');
    addresses = await lookup(host, { all: true });
  } catch (err) {
    throw new StartupError(`cannot resolve the --http host '${host}' (${errnoCode(err) ?? errorMessage(err)}); give an IP address such as 127.0.0.1`);
  }
  return addresses.length > 0 && addresses.every((a) => isLoopback(a.address));
}

/**
 * Check the HTTP settings together (docs/security.md) and load what they name: the
 * token from the environment, the TLS files. Null when HTTP is off. Throws a
 * StartupError naming the fix; called before the daemon listens anywhere.
 */
export async function planHttp(config: Config, env: NodeJS.ProcessEnv, stdio = false): Promise<HttpPlan | null> {
  if (config.http === undefined) {
    const stray: string[] = (['tls_cert', 'tls_key', 'cors_origin'] as const).filter((k) => config[k] !== undefined);
    if (config.dashboard) stray.push('dashboard');
    if (stray.length > 0) {
      throw new StartupError(`${stray.map((k) => '--' + k.replace(/_/g, '-')).join(', ')} only apply to HTTP, which is off; add --http HOST:PORT (TRL_HTTP) or drop them`);
    }
    if (!config.unix_socket && !stdio)
      throw new StartupError('nothing to serve: the Unix socket is off (unix_socket false, TRL_UNIX_SOCKET=0) and --http is not set; set --http HOST:PORT or turn the socket back on');
    return null;
  }
  const address = parseHttpAddress(config.http);
  if (address === null) throw new StartupError(`--http '${config.http}' is not HOST:PORT, [IPV6]:PORT, :PORT or PORT`);
  const auth = BearerAuth.fromEnv(env);
  // TLS and name lookups only where HTTP is on: node:tls alone is about 3 MB of an idle daemon's RSS.
  const tls = (await import('./tls.js')).loadTls(config.tls_cert, config.tls_key);
  const local = await hostIsLoopback(address.host);
  if (!local && !config.allow_remote) {
    throw new StartupError(
      `--http ${config.http} would accept connections from other machines (${address.host} is not a loopback address); ` +
        `pass --allow-remote (TRL_ALLOW_REMOTE=1) if you mean to, preferably with --tls-cert/--tls-key, or bind 127.0.0.1`,
    );
  }
  return {
    host: address.host,
    port: address.port,
    remote: !local,
    tls,
    auth,
    corsOrigins: parseCorsOrigins(config.cors_origin),
    maxRequestBytes: config.max_request_bytes,
    maxStreamsPerClient: config.max_streams_per_client,
    maxConnections: config.max_http_connections,
    dashboard: config.dashboard ? { write: config.dashboard_write, maxViewers: config.dashboard_max_viewers, auditLog: config.audit_log ?? null } : null,
  };
}
