import type { Encoding } from '../../protocol/common.js';
import { invalidParam } from '../checks.js';
import type { EngineState } from '../engine-state.js';
import { errorMessage } from '../../tiers/shared/thrown.js';

export interface InputParams {
  command_id: string;
  data?: string | undefined;
  encoding?: Encoding | undefined;
  eof?: boolean | undefined;
}

/** exec.input: write to a command's stdin or terminal; `eof` closes it. */
export async function input(st: EngineState, params: InputParams) {
  const cmd = st.getCommand(params.command_id);
  if (!cmd.stdinOpen) {
    throw invalidParam('command_id', cmd.running ? `command '${cmd.id}' has no open stdin; start it with stdin_open: true to write to it` : `command '${cmd.id}' has ended; its stdin is closed`);
  }
  const data = params.data === undefined ? Buffer.alloc(0) : Buffer.from(params.data, params.encoding ?? 'utf8');
  if (data.length > st.config.max_stdin_bytes) {
    throw invalidParam('data', `${data.length} bytes is over the stdin limit of ${st.config.max_stdin_bytes} bytes per call (max_stdin_bytes); send it in pieces`);
  }
  if (data.length > 0) {
    try {
      await cmd.write(data);
    } catch (err) {
      throw invalidParam('command_id', `could not write to the stdin of command '${cmd.id}': ${errorMessage(err)}`);
    }
  }
  if (params.eof) cmd.closeStdin();
  st.audit?.write({ method: 'exec.input', session_id: cmd.spec.sessionId, command_id: cmd.id, bytes: data.length, eof: params.eof ?? false });
  return { command_id: cmd.id, bytes_written: data.length, stdin_open: cmd.stdinOpen };
}
