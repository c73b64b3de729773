import { CONFIG_ENV, ConfigSchema, type Config, type ConfigKey } from './config-schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * Merge defaults ← environment ← flags and validate. Throws ConfigError with one
 * `NAME: what is wrong` line per bad setting, naming the variable or flag the user set.
 */
export function loadConfig(flags: Partial<Record<ConfigKey, unknown>>, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const [key, envName] of Object.entries(CONFIG_ENV) as [ConfigKey, string][]) {
    const v = env[envName];
    if (v !== undefined && v !== '') {
      raw[key] = v;
      source[key] = envName;
    }
  }
  for (const [key, v] of Object.entries(flags)) {
    if (v !== undefined) {
      raw[key] = v;
      source[key] = '--' + key.replace(/_/g, '-');
    }
  }
  const parsed = ConfigSchema.safeParse(raw);
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
    throw new ConfigError([`${source.runtime ?? '--runtime'}: ${runtime} is not among the offered tiers (${source.tiers ?? '--tiers'} ${parsed.data.tiers.join(',')}); add it to --tiers or pick one of them`]);
  }
  return { ...parsed.data, runtime };
}
