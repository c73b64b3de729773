import type { ExecStreamParams } from '../../protocol/exec.js';
import type { Command } from '../command.js';
import { launch } from '../command-launch.js';
import type { EngineState } from '../engine-state.js';

/** exec.stream: start in the session's foreground slot (beside it with `background`); the caller streams its output. */
export async function stream(st: EngineState, params: ExecStreamParams): Promise<Command> {
  return (await launch(st, params, params.background === true, 'exec.stream')).cmd;
}

/** exec.start: a background command beside the foreground slot. */
export async function start(st: EngineState, params: ExecStreamParams): Promise<{ command_id: string; pid: number }> {
  const { cmd } = await launch(st, params, true, 'exec.start');
  return { command_id: cmd.id, pid: cmd.pid };
}
