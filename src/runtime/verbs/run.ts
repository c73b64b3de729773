import { profileOf } from '../../compat/profile.js';
import { TrlError } from '../../protocol/errors.js';
import type { ExecResult, ExecRunParams } from '../../protocol/exec.js';
import { settledWithin } from '../../tiers/shared/timers.js';
import { launch } from '../command-launch.js';
import type { EngineState } from '../engine-state.js';
import { execResult } from '../exec-result.js';

/** exec.run: the buffered result, or with yield_after_s what it printed so far (it then goes on in the background). */
export async function run(st: EngineState, params: ExecRunParams): Promise<ExecResult> {
  const { yield_after_s: yieldAfter, ...rest } = params;
  const { session, cmd } = await launch(st, rest, false, 'exec.run');
  const encoding = params.encoding ?? 'utf8';
  if (yieldAfter !== undefined && !(await settledWithin(cmd.done, yieldAfter * 1000)) && cmd.running) {
    session.yieldCommand(cmd);
    return execResult(cmd, session.cwd, encoding);
  }
  await cmd.done;
  // A compatibility profile may answer otherwise (claw-core: a timeout is an error, a signal death exit_code -1).
  const result = profileOf(st.config).runResult(execResult(cmd, session.cwd, encoding));
  if (params.check && result.exit_code !== 0) {
    throw new TrlError('COMMAND_FAILED', `the command exited with ${result.exit_code}${result.signal ? ` (${result.signal})` : ''}; see details for its output`, { result });
  }
  return result;
}
