import type { Config } from '../config/config-schema.js';

/**
 * The limits in force for system.info: every numeric setting (caps, maxima,
 * timeouts, retention). Derived from the configuration so the report cannot
 * drift from it; numbers only, never a path or an env value.
 */
export function limitsInForce(config: Config): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(config)) if (typeof v === 'number') out[k] = v;
  return out;
}
