import type Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerode } from './dockerode.js';
import { engineEndpoint } from './engine-errors.js';

/**
 * Which engine the docker tier talks to (`--docker-host`, else DOCKER_HOST,
 * else the local socket) and whether that engine's machine shares this
 * one's filesystem (`--docker-shared-fs`): docs/docker-tier.md#remote-engines.
 */
export type SharedFsSetting = 'auto' | 'yes' | 'no';

/** A client of the engine at `host` (unix:///path or tcp://HOST:PORT); undefined: as DOCKER_HOST says, like the docker CLI. */
export function engineClient(host: string | undefined): Docker {
  const Client = dockerode();
  if (host === undefined) return new Client();
  if (host.startsWith('unix://')) return new Client({ socketPath: host.slice('unix://'.length) });
  const url = new URL(host);
  // TLS as docker-modem does for DOCKER_HOST (and the docker CLI): DOCKER_TLS_VERIFY, port 2376, DOCKER_CERT_PATH.
  const tls = process.env.DOCKER_TLS_VERIFY === '1' || url.port === '2376';
  const certs = process.env.DOCKER_CERT_PATH;
  return new Client({
    host: url.hostname,
    port: url.port,
    protocol: tls ? 'https' : 'http',
    ...(certs ? { ca: readFileSync(join(certs, 'ca.pem')), cert: readFileSync(join(certs, 'cert.pem')), key: readFileSync(join(certs, 'key.pem')) } : {}),
  });
}

/** Where the engine is reached, for messages and session.info (no credentials). */
export function endpointOf(host: string | undefined): string {
  return host ?? engineEndpoint();
}

/** A tcp:// engine on this machine's loopback, or a Unix socket: the same machine, hence the same filesystem (unless told otherwise). */
export function isLocalEndpoint(endpoint: string): boolean {
  return !endpoint.startsWith('tcp://') || /^tcp:\/\/(127\.|localhost[:/]|\[::1\])/.test(endpoint);
}

/** Whether workspaces and FIFOs can be bind-mounted from this machine into the engine's containers. */
export function sharesFilesystem(setting: SharedFsSetting, endpoint: string): boolean {
  return setting === 'auto' ? isLocalEndpoint(endpoint) : setting === 'yes';
}
