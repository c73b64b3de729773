import { TrlError } from '../protocol/errors.js';
import type { ExecResult } from '../protocol/exec.js';
import type { CompatProfile } from './profile.js';

/**
 * `--compat claw-core`: trl as the clients of claw-core (the Rust Terminal
 * Runtime Layer whose protocol trl starts from) expect it — its Python
 * scripts, its OpenClaw plugin and its Rust client crate, unchanged. Every
 * difference from trl's own behaviour is here; docs/claw-core.md lists them
 * field by field.
 */
export const CLAW_CORE_PROFILE: CompatProfile = {
  name: 'claw-core',
  // Every claw-core script, the plugin and the crate default to it (a socket directly in /tmp: runtime-dir.ts).
  socketPath: '/tmp/trl.sock',
  workingDir: '/tmp',
  // claw-core starts every command in the session's working_dir with the session's env.
  persistState: false,
  // claw-core's sessions are found by id; a name is only a label.
  uniqueNames: false,
  // claw-core runs `<shell> -c <command>` with any executable as the shell.
  shellAsProgram: true,
  runResult: clawCoreRunResult,
};

/**
 * claw-core answers a command its timeout killed with the error
 * COMMAND_TIMEOUT (its clients print `COMMAND_TIMEOUT command timed out` and
 * exit 2 or 4), and a command a signal ended with `exit_code: -1`. The
 * timed-out command's output so far, which claw-core never returned, is in
 * the error's details.
 */
function clawCoreRunResult(result: ExecResult): ExecResult {
  if (result.timed_out) {
    const what = result.idle_timed_out ? 'printed nothing for idle_timeout_s' : 'ran past its timeout_s';
    throw new TrlError('COMMAND_TIMEOUT', `command timed out: it ${what} and was killed; its output so far is in error.details.result; pass a larger timeout_s (0 = none) or run it with exec.start`, {
      result: { ...result, exit_code: -1 },
    });
  }
  return result.signal !== null && !result.running ? { ...result, exit_code: -1 } : result;
}
