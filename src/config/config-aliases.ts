import type { ConfigKey } from './config-schema.js';

/**
 * Old names of settings, still accepted as a flag (`--max-idle-sec`, hidden
 * from --help) and as a variable (`TRL_MAX_IDLE_SEC`) so existing deployments
 * keep working. Flags still win over the environment; within one of them, the
 * new name wins when both are given, as the documented one.
 */
export const CONFIG_ALIASES = {
  max_idle_sec: 'max_idle_s',
  session_ttl_sec: 'session_ttl_s',
} as const satisfies Record<string, ConfigKey>;

export type ConfigAlias = keyof typeof CONFIG_ALIASES;

export const ALIAS_ENTRIES = Object.entries(CONFIG_ALIASES) as Array<[ConfigAlias, ConfigKey]>;

/** The old names of a setting. */
export function aliasesOf(key: ConfigKey): ConfigAlias[] {
  return ALIAS_ENTRIES.filter(([, k]) => k === key).map(([alias]) => alias);
}
