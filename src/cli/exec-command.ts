import type { Command } from 'commander';
import type { AnyTrlClient } from '../client/connect.js';
import type { ParamsOf } from '../protocol/methods.js';
import { collectEnv, parseSeconds } from './arg-parsers.js';
import { runAttached } from './attach-runner.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { commandParams, type CommandFlags } from './exec-params.js';
import { EXIT } from './exit-codes.js';
import { exitStatusOf, signalExitStatus, warnIfTimedOut } from './exit-status.js';
import { printJson, warn } from './output.js';
import { readAllStdin } from './read-stdin.js';
import { usageErrorsExit125 } from './usage-exit.js';

interface ExecOptions extends ClientOptions, CommandFlags {
  stdin?: boolean;
}

const HELP_AFTER = `
With one argument, CMD is a shell command line run by the session's shell
(\`<shell> -c CMD\`; cd and exported variables persist in the session). With
several, they are run directly as an argv, without a shell.

Output is streamed as the command produces it (exec.stream): standard output
and error are written to trl's own, byte for byte. If trl fell behind and the
daemon's buffer moved on, a notice on stderr says how many bytes were lost.

--stdin streams trl's standard input to the command while it runs (the
command's stdin stays open, fed with exec.input; the end of trl's input closes
it). Without --stdin or -t the command's stdin is /dev/null.

-t runs the command under a pseudo-terminal of the local terminal's size (of
stdout, else stderr; 80x24 when neither is a terminal), with TERM passed on: stdout and stderr
arrive merged, the local terminal is put in raw mode so every key (Ctrl-C too)
goes to the command, and resizing the window resizes the command's terminal.
Works with a non-terminal stdin too (then no raw mode). With -t the default
timeout is none (--timeout to set one).

SIGINT, SIGTERM and SIGHUP sent to trl are passed on to the command; at the
third, trl stops waiting and leaves the command running (trl attach / trl kill).

--json prints the buffered exec.run result (output as UTF-8 text) instead.

Exit status:
  N     the command's own exit status
  128+N the command was killed by signal N
  124   the command ran into its timeout (as coreutils timeout)
  125   trl itself failed: bad flags, no daemon, or an error from the daemon

Examples:
  trl exec 'ls -l | wc -l'
  trl exec -s "$S" -- make -j4 test
  tar c dir | trl exec --stdin -- sh -c 'tar t | wc -l'
  trl exec -t -s "$S" -- vim notes.txt`;

/** `trl exec [options] -- CMD...` over `exec.stream` (or `exec.run` with --json). */
export function registerExecCommand(program: Command): void {
  const cmd = program
    .command('exec')
    .description('run a command through the daemon; stream its output and exit with its status')
    .usage('[options] [--] CMD...')
    .argument('<CMD...>', 'one shell command line, or a program and its arguments')
    .option('-s, --session <id>', 'run in this session (default: a fresh session, destroyed afterwards)')
    .option('--cwd <dir>', "this command's working directory, relative to the session's cwd (without -s: the daemon's default_working_dir)")
    .option('-e, --env <NAME=VALUE>', 'variable for this command only (repeatable)', collectEnv)
    .option('--timeout <seconds>', 'kill the command after this long (0 = none; default: the session timeout, none with -t)', parseSeconds)
    .option('--stdin', "stream trl's standard input to the command (default: /dev/null)")
    .option('-t, --tty', 'run under a pseudo-terminal, interactively (raw local terminal, window size follows)')
    .passThroughOptions()
    .addHelpText('after', HELP_AFTER);
  usageErrorsExit125(cmd);
  addClientOptions(cmd);

  cmd.action(async (words: string[], given: ExecOptions) => {
    // An interactive terminal session has no timeout unless asked for.
    const opts = given.tty && given.timeout === undefined ? { ...given, timeout: 0 } : given;
    await runWithClient(opts, (client) => (opts.json ? runBuffered(client, words, opts) : runStreamed(client, words, opts)), EXIT.EXEC_TRL_FAILED);
  });
}

/** exec.stream: output as it comes, stdin and signals passed on. */
async function runStreamed(client: AnyTrlClient, words: string[], opts: ExecOptions): Promise<number> {
  const params = commandParams(words, opts);
  if (opts.stdin) params.stdin_open = true;
  params.encoding = 'base64';
  const stream = await client.stream('exec.stream', params);
  const outcome = await runAttached({
    client,
    commandId: stream.command_id,
    events: stream.events,
    input: params.stdin_open === true,
    pty: opts.tty === true,
    detachKeys: false,
    signals: 'forward',
  });
  if (outcome.kind === 'detached') {
    const id = stream.command_id;
    warn(`stopped waiting; command ${id} keeps running (trl attach ${id}, trl kill ${id})`);
    return outcome.signal ? signalExitStatus(outcome.signal) : EXIT.OK;
  }
  warnIfTimedOut(outcome.end);
  return exitStatusOf(outcome.end);
}

/** --json: the buffered exec.run result. */
async function runBuffered(client: AnyTrlClient, words: string[], opts: ExecOptions): Promise<number> {
  const { stdin_open: _interactive, ...rest } = commandParams(words, opts);
  const params: ParamsOf<'exec.run'> = rest;
  if (opts.stdin) {
    params.stdin = (await readAllStdin()).toString('base64');
    params.stdin_encoding = 'base64';
  }
  // Output readable as text in the JSON.
  params.encoding = 'utf8';
  const result = await client.call('exec.run', params);
  printJson(result);
  return exitStatusOf(result);
}

