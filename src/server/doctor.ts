import type { Config } from '../config/config-schema.js';
import type { TierName } from '../protocol/common.js';
import { LocalMachine } from '../tiers/host/local-machine.js';
import { newInstanceId } from '../tiers/shared/instance-id.js';
import type { Enforcement, Requirement } from '../tiers/tier.js';
import { profileOf } from '../compat/profile.js';
import { defaultSocketPath } from '../protocol/transport.js';
import { closeTiers, createTiers } from './tiers.js';

export type { Requirement };

/** One tier as `trl doctor` reports it. */
export interface TierReport {
  tier: TierName;
  available: boolean;
  isolated: boolean;
  detail: string;
  requirements: Requirement[];
  enforcement: Enforcement;
}

/**
 * Check this machine without a daemon: set up every configured tier as the
 * daemon would, run each health check and list what each needs; then take it
 * all down again.
 */
export async function checkMachine(config: Config): Promise<TierReport[]> {
  const machine = new LocalMachine(newInstanceId(), config.cgroups);
  const socketPath = config.socket_path ?? profileOf(config).socketPath ?? defaultSocketPath({ XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR });
  const tiers = await createTiers({ machine, socketPath }, config).catch(async (err: unknown) => {
    await machine.close();
    throw err;
  });
  const reports: TierReport[] = [];
  try {
    for (const [tier, t] of tiers) {
      const [health, requirements] = await Promise.all([t.healthCheck(), t.requirements?.() ?? Promise.resolve([])]);
      reports.push({ tier, ...health, requirements, enforcement: t.enforcement() });
    }
  } finally {
    await closeTiers(tiers, machine);
  }
  return reports;
}
