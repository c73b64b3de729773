import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Backend, TierHealth, TierName } from '../tiers/tier.js';
import type { HostBackend } from '../tiers/host/host-tier.js';
import type { Config } from '../config/config-schema.js';
import { headPathOf } from '../runtime/audit-head.js';
import { StartupError } from './startup-error.js';

/** The configured tiers; the sandbox shares the host's cgroups and pipes, docker is loaded only when configured. */
export async function createBackends(host: HostBackend, config: Config, instanceId: string, socketPath: string): Promise<Map<TierName, Backend>> {
  const backends = new Map<TierName, Backend>();
  if (!config.tiers.includes(config.runtime)) {
    throw new StartupError(`--runtime ${config.runtime} is not among --tiers ${config.tiers.join(',')}; add it to --tiers`);
  }
  // The host backend always exists (the sandbox shares its cgroups and pipes, it reaps crash
  // leftovers), but is offered to clients only when listed: an operator may confine them all.
  if (config.tiers.includes('host')) backends.set('host', host);
  if (config.tiers.includes('sandbox')) {
    const { SandboxBackend } = await import('../tiers/sandbox/sandbox-tier.js');
    const hide = [dirname(socketPath), ...config.sandbox_hide];
    for (const f of [config.env_file ?? resolve('.env'), config.log_file, config.audit_log, config.audit_log && headPathOf(config.audit_log), config.audit_key_file]) if (f) hide.push(resolve(f));
    backends.set('sandbox', new SandboxBackend(host, { hide, user: config.isolated_user }));
  }
  if (config.tiers.includes('docker')) {
    const { DockerBackend } = await import('../tiers/docker/docker-tier.js');
    backends.set('docker', new DockerBackend({ instanceId, config, ghosts: host.ghosts }));
  }
  return backends;
}

/**
 * Health-check every configured tier at once, by really spawning something.
 * A broken default tier stops the start with the fix; another broken tier
 * only answers RUNTIME_UNAVAILABLE.
 */
export async function checkTiers(backends: Map<TierName, Backend>, config: Config, log: Logger): Promise<Map<TierName, TierHealth>> {
  const checked = await Promise.all([...backends].map(async ([name, b]) => [name, await b.healthCheck()] as const));
  const health = new Map<TierName, TierHealth>(checked);
  for (const [name, h] of health) {
    if (h.available) log.info({ tier: name, isolated: h.isolated, detail: h.detail }, 'tier ready');
    else if (name !== config.runtime) log.warn({ tier: name, detail: h.detail }, 'tier unavailable: sessions asking for it get RUNTIME_UNAVAILABLE');
  }
  const main = health.get(config.runtime)!;
  if (!main.available) {
    throw new StartupError(`the default tier '${config.runtime}' failed its health check: ${main.detail}; fix it, or start with another --runtime (trl doctor shows what each tier needs)`);
  }
  return health;
}

export async function closeBackends(backends: Map<TierName, Backend>, host: HostBackend | null): Promise<void> {
  // The host goes last: the sandbox shares its cgroups and pipes.
  for (const [name, b] of [...backends].reverse()) if (name !== 'host') await b.close().catch(() => undefined);
  await host?.close();
}
