import { resolve } from 'node:path';
import type { Config } from '../config/config-schema.js';
import type { TierName } from '../protocol/common.js';
import { headPathOf } from '../runtime/audit-head.js';
import type { LocalMachine } from '../tiers/host/local-machine.js';
import type { DockerSettings } from '../tiers/docker/docker-tier.js';
import type { Tier } from '../tiers/tier.js';
import { runtimePaths } from './runtime-dir.js';

/** What every tier may use: the daemon's local machine (cgroups, pipes, ghosts) and its socket's path. */
export interface TierContext {
  machine: LocalMachine;
  socketPath: string;
}

export interface TierEntry {
  /** Whether it is a boundary (what system.info says of it even when not configured). */
  isolated: boolean;
  load(ctx: TierContext, config: Config): Promise<Tier>;
}

/**
 * Every tier, by its wire name: how to load it (only when configured: a
 * daemon without docker never loads dockerode) and which settings it gets
 * (its own, not the whole configuration). A new tier is a folder of
 * src/tiers/ and one line here (and its name in TIER_NAMES).
 */
export const TIER_REGISTRY: Record<TierName, TierEntry> = {
  host: { isolated: false, load: async ({ machine }) => new (await import('../tiers/host/host-tier.js')).HostTier(machine) },
  sandbox: {
    isolated: true,
    load: async ({ machine, socketPath }, c) =>
      new (await import('../tiers/sandbox/sandbox-tier.js')).SandboxTier(machine, {
        hide: sandboxHidden(c, socketPath),
        user: c.isolated_user,
        warmPool: c.sandbox_warm_pool,
        defaultWorkspace: c.default_working_dir ?? process.cwd(),
      }),
  },
  docker: {
    isolated: true,
    load: async ({ machine }, c) => new (await import('../tiers/docker/docker-tier.js')).DockerTier({ instanceId: machine.instanceId, ghosts: machine.ghosts, ...dockerSettings(c) }),
  },
};

/** The docker tier's own settings. */
export function dockerSettings(c: Config): DockerSettings {
  return {
    image: c.docker_image,
    user: c.docker_user,
    isolatedUser: c.isolated_user,
    network: c.docker_network,
    shell: c.docker_shell,
    warmPool: c.docker_warm_pool,
    defaultWorkspace: c.default_working_dir ?? process.cwd(),
    runtime: c.docker_runtime,
    host: c.docker_host,
    sharedFs: c.docker_shared_fs,
    healthTimeoutS: c.docker_health_timeout_s,
  };
}

/** What a sandbox hides besides the home's secret stores: the daemon's own files and runtime directory, and the operator's list. */
function sandboxHidden(c: Config, socketPath: string): string[] {
  const hide = [...runtimePaths(socketPath), ...c.sandbox_hide];
  for (const f of [c.env_file ?? resolve('.env'), c.log_file, c.audit_log, c.audit_log && headPathOf(c.audit_log), c.audit_key_file]) if (f) hide.push(resolve(f));
  return hide;
}
