import { Command, Option } from 'commander';
import type { z } from 'zod';
import { addConfigFlags, enumChoices } from '../../src/cli/config-flags.js';
import { ALIAS_ENTRIES, aliasesOf } from '../../src/config/config-aliases.js';
import { CONFIG_ENV, configSchema, SETTING_GROUPS, envNameOf, flagOf, type ConfigKey } from '../../src/config/config-schema.js';
import { defaultText } from '../../src/config/default-text.js';
import { cell, code, prose } from '../protocol-doc/markdown.js';
import type { Headings } from './anchors.js';

export const BEGIN = '<!-- settings:begin -->';
export const END = '<!-- settings:end -->';
/** The document the tables go into: its own sections are linked as `#anchor`. */
export const TARGET = 'operations.md';

/**
 * The settings tables of docs/operations.md, from configSchema(): one table per
 * group, one row per setting. Flags are read from the real `trl serve` options,
 * so the table shows what the command line accepts.
 * `docs`: file name in docs/ → its headings, to check and title the `see` links.
 */
export function renderSettings(docs: ReadonlyMap<string, Headings>): string {
  const shape: Record<ConfigKey, z.ZodType> = configSchema().shape;
  const serve = new Command('serve');
  addConfigFlags(serve);
  const sections = SETTING_GROUPS.map((g) =>
    [`### ${g.title}`, '', '| Flag | Variable | Default | Meaning |', '|---|---|---|---|', ...g.keys.map((k) => row(k, shape[k], optionOf(serve, k), docs))].join('\n'),
  );
  return [
    '<!-- Generated from src/config/config-schema.ts by `npm run docs` (scripts/gen-settings-doc.ts): edit the schema, not these tables. -->',
    '',
    ...sections.flatMap((s) => [s, '']),
    aliasNote(),
  ].join('\n');
}

function optionOf(cmd: Command, key: ConfigKey): Option {
  const attr = new Option(flagOf(key)).attributeName();
  const option = cmd.options.find((o) => o.attributeName() === attr);
  if (!option) throw new Error(`trl serve has no flag for setting ${key}`);
  return option;
}

function row(key: ConfigKey, schema: z.ZodType, option: Option, docs: ReadonlyMap<string, Headings>): string {
  const switchValue = option.negate ? '=0' : option.required || option.optional ? '' : '=1';
  const choices = enumChoices(schema);
  let meaning = prose(schema.description ?? '');
  // A short list already shows in the flag (`--cgroups <auto|off>`).
  if (choices && !option.flags.includes(choices.join('|'))) meaning += `; one of ${choices.map(code).join(', ')}`;
  const aliases = aliasesOf(key);
  if (aliases.length > 0) meaning += `. Old name, still accepted: ${aliases.flatMap((a) => [code(flagOf(a)), code(envNameOf(a))]).join(', ')}`;
  const see = schema.meta()?.see;
  if (see !== undefined) meaning += `. See ${link(see, docs, key)}`;
  return `| ${cell(code(option.flags))} | ${code(CONFIG_ENV[key] + switchValue)} | ${prose(defaultText(key, schema) ?? 'none')} | ${meaning} |`;
}

/** `security.md#limits` → `[Limits](security.md#limits)`; an error if the page or its section is missing. */
function link(see: string, docs: ReadonlyMap<string, Headings>, key: ConfigKey): string {
  const [file = '', anchor = ''] = see.split('#');
  const heading = docs.get(file)?.get(anchor);
  if (heading === undefined) throw new Error(`setting ${key}: its \`see\` names docs/${see}, which has no such section; fix the meta in src/config/config-schema.ts`);
  return `[${heading}](${file === TARGET ? '' : file}#${anchor})`;
}

function aliasNote(): string {
  const names = ALIAS_ENTRIES.map(([alias, key]) => `${code(flagOf(alias))} and ${code(envNameOf(alias))} for ${code(flagOf(key))}`);
  return `Old names keep working: ${names.join('; ')}. When an old and a new name are both given as flags, ` + 'or both as variables, the new one wins; a flag still wins over a variable.';
}
