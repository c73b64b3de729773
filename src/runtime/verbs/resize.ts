import { invalidParam } from '../checks.js';
import type { EngineState } from '../engine-state.js';

/** exec.resize: a terminal command's size. */
export function resize(st: EngineState, id: string, cols: number, rows: number) {
  const cmd = st.getCommand(id);
  if (!cmd.pty) throw invalidParam('command_id', `command '${id}' does not run under a pseudo-terminal; only pty commands can be resized`);
  if (cmd.running) cmd.resize(cols, rows);
  return { command_id: id, cols, rows };
}
