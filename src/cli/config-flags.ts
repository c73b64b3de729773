import { Option, type Command } from 'commander';
import { z } from 'zod';
import { ALIAS_ENTRIES, type ConfigAlias } from '../config/config-aliases.js';
import { CONFIG_ENV, CONFIG_KEYS, configSchema, flagOf, type Config, type ConfigKey } from '../config/config-schema.js';
import { defaultText } from '../config/default-text.js';
import { ConfigError, loadConfig, type ConfigFlags } from '../config/load-config.js';
import { warn } from './output.js';

/**
 * One `trl serve` flag per setting of configSchema(): `max_sessions` →
 * `--max-sessions <n>`, boolean settings as plain switches (`--allow-root`).
 * Flags carry no commander default, so an unset flag leaves the setting to
 * its environment variable, then to the schema default. Old names of settings
 * (`--max-idle-sec`) are accepted too, hidden from --help.
 */
export function addConfigFlags(cmd: Command): void {
  const shape: Record<ConfigKey, z.ZodType> = configSchema().shape;
  for (const key of CONFIG_KEYS) cmd.addOption(optionFor(key, shape[key]));
  for (const [alias, key] of ALIAS_ENTRIES) cmd.addOption(aliasOptionFor(alias, key, shape[key]));
}

/** The flag values the user gave, keyed by setting (or old name), for loadConfig. */
export function configFlagValues(cmd: Command): ConfigFlags {
  const values = cmd.opts();
  const out: ConfigFlags = {};
  const names: Array<ConfigKey | ConfigAlias> = [...CONFIG_KEYS, ...ALIAS_ENTRIES.map(([alias]) => alias)];
  for (const name of names) {
    const attr = attributeOf(name);
    // A `--no-…` switch has an implicit commander default (true): only what the user typed counts.
    if (values[attr] !== undefined && cmd.getOptionValueSource(attr) !== 'default') out[name] = values[attr];
  }
  return out;
}

function attributeOf(name: string): string {
  return new Option(flagOf(name)).attributeName();
}

/** Help text is plain: the Markdown backticks of descriptions are dropped. */
function plain(text: string): string {
  return text.replace(/`/g, '');
}

function optionFor(key: ConfigKey, schema: z.ZodType): Option {
  const flag = flagOf(key);
  const choices = enumChoices(schema);
  const boolean = isBoolean(schema);
  const fallback = schema.safeParse(undefined);
  // A switch that is on by default is turned off with `--no-…` (`unix_socket` → `--no-unix-socket`).
  const onByDefault = boolean && fallback.success && fallback.data === true;
  const parts = [schema.description ?? key.replace(/_/g, ' ')];
  if (choices) parts.push(`one of ${choices.join(', ')}`);
  const byDefault = boolean ? undefined : defaultText(key, schema);
  if (byDefault !== undefined) parts.push(`default ${byDefault}`);
  parts.push(`env ${CONFIG_ENV[key]}${boolean ? (onByDefault ? '=0' : '=1') : ''}`);
  const description = plain(parts.join('; '));
  if (onByDefault) return new Option(`--no-${flag.slice(2)}`, description);
  return boolean ? new Option(flag, description) : new Option(`${flag} <${placeholder(key, schema, choices)}>`, description);
}

/** An old name of a setting: takes what the setting takes, hidden from --help. */
function aliasOptionFor(alias: ConfigAlias, key: ConfigKey, schema: z.ZodType): Option {
  const value = isBoolean(schema) ? '' : ` <${placeholder(key, schema, enumChoices(schema))}>`;
  return new Option(flagOf(alias) + value, `deprecated: use ${flagOf(key)}`).hideHelp();
}

/** A setting is a switch if it takes booleans and yields them. */
function isBoolean(schema: z.ZodType): boolean {
  const t = schema.safeParse(true);
  const f = schema.safeParse(false);
  return t.success && t.data === true && f.success && f.data === false;
}

/** The schema under its `.default()`/`.optional()` wrappers. */
function unwrapped(schema: z.ZodType): unknown {
  let s: unknown = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.unwrap();
  return s;
}

export function enumChoices(schema: z.ZodType): string[] | undefined {
  const s = unwrapped(schema);
  return s instanceof z.ZodEnum ? (s.options as string[]) : undefined;
}

function placeholder(key: ConfigKey, schema: z.ZodType, choices: string[] | undefined): string {
  if (choices) return choices.length <= 3 ? choices.join('|') : 'level';
  if (unwrapped(schema) instanceof z.ZodNumber) {
    if (/_s$/.test(key)) return 'seconds';
    if (/_bytes$/.test(key)) return 'bytes';
    return 'n';
  }
  if (/_dir$/.test(key)) return 'dir';
  if (/_(file|log|path|cert|key|shell)$/.test(key)) return 'path';
  return PLACEHOLDERS[key] ?? 'value';
}

/** What a setting that is not a path, number or choice takes, as --help shows it. */
const PLACEHOLDERS: Partial<Record<ConfigKey, string>> = {
  http: 'host:port',
  cors_origin: 'origins',
  tiers: 'tiers',
  workspace_roots: 'dirs',
  sandbox_hide: 'paths',
  docker_image: 'image',
  docker_user: 'user',
  isolated_user: 'uid[:gid]',
  docker_network: 'network',
  docker_runtime: 'runtime',
  docker_host: 'url',
};

/** The settings of a daemon command's flags and the environment, or null once their problems are printed (exit EXIT.USAGE). */
export function configFromFlags(cmd: Command): Config | null {
  try {
    return loadConfig(configFlagValues(cmd), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) warn(problem);
    return null;
  }
}
