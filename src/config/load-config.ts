import { ALIAS_ENTRIES, CONFIG_ALIASES, type ConfigAlias } from './config-aliases.js';
import { CONFIG_ENV, CONFIG_KEYS, configSchema, envNameOf, flagOf, type Config, type ConfigKey } from './config-schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Flag values keyed by setting, or by an old name of one (config-aliases.ts). */
export type ConfigFlags = Partial<Record<ConfigKey | ConfigAlias, unknown>>;

/**
 * Merge defaults ← environment ← flags and validate. Throws ConfigError with one
 * `NAME: what is wrong` line per bad setting, naming the variable or flag the user set.
 */
export function loadConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  // A key is a setting's name, or (from flags) whatever the caller passed: the strict schema names a stranger.
  const give = (key: string, value: unknown, from: string) => {
    raw[key] = value;
    source[key] = from;
  };
  // Within each layer an old name goes first, so the new one overrides it.
  for (const [alias, key] of ALIAS_ENTRIES) {
    const v = env[envNameOf(alias)];
    if (v !== undefined && v !== '') give(key, v, envNameOf(alias));
  }
  for (const key of CONFIG_KEYS) {
    const envName = CONFIG_ENV[key];
    const v = env[envName];
    if (v !== undefined && v !== '') give(key, v, envName);
  }
  const flagEntries = Object.entries(flags).filter(([, v]) => v !== undefined);
  for (const [name, v] of flagEntries) if (isAlias(name)) give(CONFIG_ALIASES[name], v, flagOf(name));
  for (const [name, v] of flagEntries) if (!isAlias(name)) give(name, v, flagOf(name));

  const parsed = configSchema().safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const key = String(i.path[0] ?? '');
        return `${source[key] ?? key}: ${i.message}`;
      }),
    );
  }
  const runtime = parsed.data.runtime ?? (parsed.data.tiers.includes('host') ? 'host' : parsed.data.tiers[0]!);
  if (!parsed.data.tiers.includes(runtime)) {
    throw new ConfigError([
      `${source.runtime ?? '--runtime'}: ${runtime} is not among the offered tiers (${source.tiers ?? '--tiers'} ${parsed.data.tiers.join(',')}); add it to --tiers or pick one of them`,
    ]);
  }
  return { ...parsed.data, runtime };
}

function isAlias(name: string): name is ConfigAlias {
  return Object.prototype.hasOwnProperty.call(CONFIG_ALIASES, name);
}
