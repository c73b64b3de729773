import type { Encoding } from '../../protocol/common.js';
import { TrlError } from '../../protocol/errors.js';
import type { ExecResult } from '../../protocol/exec.js';
import { settledWithin } from '../../tiers/shared/timers.js';
import type { EngineState } from '../engine-state.js';
import { execResult } from '../exec-result.js';

/** exec.wait: the final result; COMMAND_TIMEOUT if `timeoutS` passes first. */
export async function wait(st: EngineState, id: string, timeoutS: number | undefined, encoding: Encoding): Promise<ExecResult> {
  const cmd = st.getCommand(id);
  if (cmd.running && timeoutS !== undefined && !(await settledWithin(cmd.done, timeoutS * 1000))) {
    throw new TrlError('COMMAND_TIMEOUT', `command '${id}' is still running after ${timeoutS} s; wait again, read its output with exec.output, or cancel it`, { command_id: id });
  }
  await cmd.done;
  return execResult(cmd, st.commandWorkingDir(cmd), encoding);
}
