import type { ParamsOf } from '../protocol/methods.js';
import { remoteTerm, terminalSize } from './terminal.js';
import { commandOfWords } from './word-rule.js';

/** The flags `trl exec` and `trl start` share. */
export interface CommandFlags {
  session?: string;
  cwd?: string;
  env?: Record<string, string>;
  timeout?: number;
  tty?: boolean;
  /** --no-shell (commander's `shell: false`): the words are a program and its arguments. */
  shell?: boolean;
}

type CommandParams = ParamsOf<'exec.stream'>;

/**
 * The exec.* parameters for CMD... and the shared flags (the words as the
 * word rule reads them: word-rule.ts). `tty` adds a pseudo-terminal of the
 * local terminal's size, with stdin open and the local TERM. `session` must
 * already be a session id (refs.ts resolves names and prefixes).
 */
export function commandParams(words: string[], flags: CommandFlags): CommandParams {
  const params: CommandParams = { ...commandOfWords(words, flags.shell === false) };
  if (flags.session !== undefined) params.session_id = flags.session;
  if (flags.cwd !== undefined) params.working_dir = flags.cwd;
  if (flags.timeout !== undefined) params.timeout_s = flags.timeout;
  const env = { ...flags.env };
  if (flags.tty) {
    params.pty = terminalSize();
    params.stdin_open = true;
    env['TERM'] ??= remoteTerm();
  }
  if (Object.keys(env).length > 0) params.env = env;
  return params;
}
