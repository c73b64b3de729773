import type { Command } from 'commander';
import type { AnyTrlClient } from '../client/connect.js';
import type { ParamsOf, ResultOf } from '../protocol/methods.js';
import { parseOffset } from './arg-parsers.js';
import { runAttached } from './attach-runner.js';
import { resolveCommand } from './refs.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { DETACH_KEYS_HELP } from './detach-keys.js';
import { EXIT } from './exit-codes.js';
import { exitStatusOf, signalExitStatus, warnIfTimedOut } from './exit-status.js';
import { warn } from './output.js';
import { printEventsAsJson } from './stream-output.js';
import { usageErrorsExit125 } from './usage-exit.js';

interface AttachOptions extends ClientOptions {
  from?: number;
  replay?: boolean;
}

type CommandInfo = ResultOf<'exec.info'>;

export const ATTACH_HELP = `
Prints what the command wrote that the daemon still holds, then its live
output, and sends trl's standard input to it (when it was started with its
stdin open: trl start -i/-t, trl shell). For a pseudo-terminal command the
local terminal goes into raw mode (every key, Ctrl-C included, goes to the
command) and the command's terminal takes the local window's size.

Detach with ${DETACH_KEYS_HELP} (as docker attach): trl exits 0 and the command
keeps running; attach again any time, from any terminal. A Ctrl-P is held back
until the next key, and sent with it unless that key is Ctrl-Q. When the local
terminal is not in raw mode, SIGINT (Ctrl-C), SIGTERM or SIGHUP detach as well
(status 128+N). Several clients may be attached at once; they all see the output.

Exit status: the command's own when it ends while attached (124 after its
timeout, 128+N if killed by signal N); 0 after a detach; 125 when trl fails.

--json prints the stream's events instead ({stream_id, event, data, offset}
per line, output as UTF-8 text, ending with the exit event), without sending
any input.`;

/** `trl attach ID` over `exec.attach` + `exec.input` + `exec.resize`. */
export function registerAttachCommand(program: Command): void {
  const cmd = program
    .command('attach')
    .description('join a running command: its output live, your keyboard as its input')
    .argument('<id>', 'command id, or a unique prefix of one')
    .option('--from <offset>', 'replay its buffered output from this byte offset (default: all of it)', parseOffset)
    .option('--no-replay', 'show only new output')
    .addHelpText('after', ATTACH_HELP);
  usageErrorsExit125(cmd);
  addClientOptions(cmd);

  cmd.action(async (ref: string, opts: AttachOptions) => {
    await runWithClient(
      opts,
      async (client) => {
        const id = await resolveCommand(client, ref);
        const info = await client.call('exec.info', { command_id: id });
        return attachToCommand(client, info, {
          reattach: `trl attach ${id}`,
          replay: opts.replay !== false,
          json: opts.json === true,
          ...(opts.from !== undefined ? { from: opts.from } : {}),
        });
      },
      EXIT.EXEC_TRL_FAILED,
    );
  });
}

export interface AttachTo {
  /** How to come back, for the detach message. */
  reattach: string;
  /** Replay from this byte offset of both streams (default all that is buffered). */
  from?: number;
  /** false: start at the current end of the output. */
  replay?: boolean;
  /** Print the events as JSON lines; no input, no terminal handling. */
  json?: boolean;
}

/** Attach to the command `info` describes; returns trl's exit status. */
export async function attachToCommand(client: AnyTrlClient, info: CommandInfo, how: AttachTo): Promise<number> {
  const params: ParamsOf<'exec.attach'> = { command_id: info.command_id, encoding: how.json ? 'utf8' : 'base64' };
  if (how.replay === false) params.from_offset = { stdout: info.stdout_bytes, stderr: info.stderr_bytes };
  else if (how.from !== undefined) params.from_offset = how.from;
  const stream = await client.stream('exec.attach', params);
  if (how.json) {
    const end = await printEventsAsJson(stream.events);
    return end === null ? EXIT.EXEC_TRL_FAILED : exitStatusOf(end);
  }

  const running = info.state === 'running';
  const input = running && info.stdin_open;
  const pty = running && info.pty;
  if (running && process.stdin.isTTY) {
    // Only a raw terminal delivers the detach keys; a cooked one turns Ctrl-C into SIGINT, which detaches.
    const keys = input && pty ? DETACH_KEYS_HELP : 'Ctrl-C';
    warn(`attached to ${info.command_id}${input ? '' : ' (its stdin is closed)'}; detach with ${keys}`);
  }
  const outcome = await runAttached({
    client,
    commandId: info.command_id,
    events: stream.events,
    input,
    pty,
    resizeNow: true,
    detachKeys: true,
    signals: 'detach',
  });
  if (outcome.kind === 'detached') {
    // The cursor may be anywhere (a prompt, an echoed ^C): start on a line of our own.
    if (process.stderr.isTTY) process.stderr.write('\n');
    warn(`detached; ${info.command_id} keeps running (${how.reattach})`);
    return outcome.signal ? signalExitStatus(outcome.signal) : EXIT.OK;
  }
  warnIfTimedOut(outcome.end);
  return exitStatusOf(outcome.end);
}
