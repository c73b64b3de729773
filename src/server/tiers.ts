import type { Logger } from 'pino';
import type { Tier, TierHealth } from '../tiers/tier.js';
import { TIER_NAMES, type TierName } from '../protocol/common.js';
import type { LocalMachine } from '../tiers/host/local-machine.js';
import type { Config } from '../config/config-schema.js';
import { TIER_REGISTRY, type TierContext } from './tier-registry.js';
import { StartupError } from './startup-error.js';

/** The tiers offered to clients (--tiers), loaded and constructed; none is checked yet. */
export async function createTiers(ctx: TierContext, config: Config): Promise<Map<TierName, Tier>> {
  if (!config.tiers.includes(config.runtime)) {
    throw new StartupError(`--runtime ${config.runtime} is not among --tiers ${config.tiers.join(',')}; add it to --tiers`);
  }
  const tiers = new Map<TierName, Tier>();
  for (const name of config.tiers) tiers.set(name, await TIER_REGISTRY[name].load(ctx, config));
  return tiers;
}

/**
 * Health-check every configured tier at once, by really spawning something.
 * A broken default tier stops the start with the fix; another broken tier
 * only answers RUNTIME_UNAVAILABLE.
 */
export async function checkTiers(tiers: Map<TierName, Tier>, config: Config, log: Logger): Promise<Map<TierName, TierHealth>> {
  const checked = await Promise.all([...tiers].map(async ([name, b]) => [name, await b.healthCheck()] as const));
  const health = new Map<TierName, TierHealth>(checked);
  for (const [name, h] of health) {
    if (h.available) log.info({ tier: name, isolated: h.isolated, detail: h.detail }, 'tier ready');
    else if (name !== config.runtime) log.warn({ tier: name, detail: h.detail }, 'tier unavailable: sessions asking for it get RUNTIME_UNAVAILABLE');
  }
  const main = health.get(config.runtime);
  if (!main?.available) {
    throw new StartupError(
      `the default tier '${config.runtime}' failed its health check: ${main?.detail ?? 'it is not among --tiers'}; fix it, or start with another --runtime (trl doctor shows what each tier needs)`,
    );
  }
  // The tiers not configured, so that system.info lists every tier and says why one is missing.
  for (const name of TIER_NAMES) {
    if (!health.has(name)) {
      health.set(name, { available: false, isolated: TIER_REGISTRY[name].isolated, detail: `not configured in this daemon: add it to --tiers (now ${config.tiers.join(',')})` });
    }
  }
  return health;
}

/** Close every tier, then the local machine they share. */
export async function closeTiers(tiers: Map<TierName, Tier>, machine: LocalMachine | null): Promise<void> {
  for (const t of [...tiers.values()].reverse()) await t.close().catch(() => undefined);
  await machine?.close();
}
