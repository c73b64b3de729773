import { ALIAS_ENTRIES } from '../config/config-aliases.js';
import type { Config } from '../config/config-schema.js';

/**
 * The limits in force for system.info: every numeric setting (caps, maxima,
 * timeouts, retention). Derived from the configuration so the report cannot
 * drift from it; numbers only, never a path or an env value.
 */
export function limitsInForce(config: Config): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(config)) if (typeof v === 'number') out[k] = v;
  // Deprecated: the old names too (max_idle_sec …), for clients written before the renames.
  for (const [alias, key] of ALIAS_ENTRIES) if (out[key] !== undefined) out[alias] = out[key];
  return out;
}
