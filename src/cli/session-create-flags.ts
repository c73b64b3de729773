import { InvalidArgumentError, Option, type Command } from 'commander';
import { resolve } from 'node:path';
import type { Limits } from '../protocol/common.js';
import type { ParamsOf } from '../protocol/methods.js';
import { TIER_NAMES, type TierName } from '../protocol/names.js';
import { collectEnv, collectVarName, parseWholeSeconds } from './arg-parsers.js';
import { collectLimit, LIMIT_HELP } from './limit-flags.js';

/** What `trl session create`'s flags parse to. */
export interface CreateFlags {
  name?: string;
  cwd?: string;
  workspace?: string;
  shell?: string;
  env?: Record<string, string>;
  timeout?: number;
  runtime?: TierName;
  tier?: TierName;
  network?: boolean;
  image?: string;
  limit?: Limits;
  secretKey?: string[];
  redactOutput?: boolean;
}

const NETWORK_WORDS: Record<string, boolean> = { on: true, yes: true, true: true, off: false, no: false, false: false, none: false };

/** `--network [on|off]`: docker users write `--network none`; a network's name cannot be chosen per session. */
function parseNetwork(value: string): boolean {
  const on = NETWORK_WORDS[value.toLowerCase()];
  if (on === undefined) {
    throw new InvalidArgumentError(`expected on or off (none), got '${value}': a session cannot pick its docker network; the daemon's --docker-network is used for sessions with --network`);
  }
  return on;
}

/** The flags of `trl session create`, one per field of session.create. */
export function addCreateFlags(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'human label, unique among live sessions (other commands accept it in place of the id)')
    .addOption(new Option('--runtime <tier>', 'isolation tier (default: the daemon default, trl info shows it)').choices(TIER_NAMES))
    .addOption(new Option('--tier <tier>', 'same as --runtime').choices(TIER_NAMES).conflicts('runtime'))
    .option('--cwd <dir>', "initial working directory (default: the workspace, else the daemon's default_working_dir)")
    .option('--workspace <dir>', "sandbox and docker: the one host directory the session may write (default: --cwd); it must lie under the daemon's --workspace-roots")
    .option('--network [on|off]', 'let commands use the network (sandbox and docker cut it by default; host always has it); --network none or --no-network: no network', parseNetwork)
    .option('--no-network', 'no network (isolated tiers only; the default there)')
    .option('--image <image>', "docker: the session's container image (default: the daemon's --docker-image)")
    .option('--limit <NAME=VALUE>', LIMIT_HELP, collectLimit)
    .option('-e, --env <NAME=VALUE>', 'session variable (repeatable); values are never shown again', collectEnv)
    .option(
      '--secret-key <NAME>',
      'treat this variable as secret: its value is redacted from output, logs and the audit log (repeatable; names like *TOKEN*, *SECRET*, *KEY*, *PASSWORD* are secret anyway)',
      collectVarName,
    )
    .option('--no-redact-output', 'do not replace secret values in command output with [REDACTED]')
    .option('--shell <path>', "absolute path of the shell that runs commands (default: the tier's, /bin/sh)")
    .option('--timeout <seconds>', 'default per-command timeout, whole seconds (0 = none)', parseWholeSeconds);
}

/** session.create's params from the flags given (a flag not given leaves its field to the daemon). */
export function createParams(flags: CreateFlags, cmd: Command): ParamsOf<'session.create'> {
  const params: ParamsOf<'session.create'> = {};
  if (flags.name !== undefined) params.name = flags.name;
  const runtime = flags.runtime ?? flags.tier;
  if (runtime !== undefined) params.runtime = runtime;
  if (flags.cwd !== undefined) params.working_dir = resolve(flags.cwd);
  if (flags.workspace !== undefined) params.workspace = resolve(flags.workspace);
  // Both --network and --no-network set `network`: only a flag actually given is sent.
  if (cmd.getOptionValueSource('network') === 'cli') params.network = flags.network ?? true;
  if (flags.image !== undefined) params.image = flags.image;
  if (flags.limit !== undefined) params.limits = flags.limit;
  if (flags.env !== undefined) params.env = flags.env;
  if (flags.secretKey !== undefined) params.secret_keys = [...new Set(flags.secretKey)];
  if (cmd.getOptionValueSource('redactOutput') === 'cli') params.redact_output = flags.redactOutput ?? true;
  if (flags.shell !== undefined) params.shell = flags.shell;
  if (flags.timeout !== undefined) params.timeout_s = flags.timeout;
  return params;
}
