import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import type { ParamsOf } from '../protocol/methods.js';
import { collectEnv, collectVarName, parseWholeSeconds } from './arg-parsers.js';

/** What `trl session update`'s flags parse to. */
export interface UpdateFlags {
  env?: Record<string, string>;
  unsetEnv?: string[];
  cwd?: string;
  name?: string;
  timeout?: number;
  secretKey?: string[];
  redactOutput?: boolean;
}

/** The flags of `trl session update`, one per field of session.update. */
export function addUpdateFlags(cmd: Command): Command {
  return cmd
    .option('-e, --env <NAME=VALUE>', 'set or replace a session variable (repeatable); values are never shown again', collectEnv)
    .option('--unset-env <NAME>', 'remove a session variable (repeatable)', collectVarName)
    .option('--cwd <dir>', 'new working directory; it must exist and be a directory')
    .option('--name <name>', 'new label, unique among live sessions')
    .option('--timeout <seconds>', 'new default per-command timeout, whole seconds (0 = none)', parseWholeSeconds)
    .option('--secret-key <NAME>', 'treat this variable as secret too (repeatable)', collectVarName)
    .addOption(new Option('--redact-output', 'replace secret values in command output with [REDACTED]'))
    .addOption(new Option('--no-redact-output', 'stop replacing secret values in command output'));
}

/** session.update's params: only the flags given. */
export function updateParams(sessionId: string, flags: UpdateFlags, cmd: Command): ParamsOf<'session.update'> {
  const params: ParamsOf<'session.update'> = { session_id: sessionId };
  if (flags.env !== undefined) params.env = flags.env;
  if (flags.unsetEnv !== undefined) params.unset_env = [...new Set(flags.unsetEnv)];
  if (flags.cwd !== undefined) params.working_dir = resolve(flags.cwd);
  if (flags.name !== undefined) params.name = flags.name;
  if (flags.timeout !== undefined) params.timeout_s = flags.timeout;
  if (flags.secretKey !== undefined) params.secret_keys = [...new Set(flags.secretKey)];
  if (cmd.getOptionValueSource('redactOutput') === 'cli') params.redact_output = flags.redactOutput ?? true;
  return params;
}
