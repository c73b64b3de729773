import type { Command } from 'commander';
import { TrlClientError } from '../client/client-error.js';
import type { AnyTrlClient } from '../client/connect.js';
import type { ParamsOf } from '../protocol/methods.js';
import { collectEnv, parseSeconds } from './arg-parsers.js';
import { runAttached } from './attach-runner.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { commandParams, type CommandFlags } from './exec-params.js';
import { EXIT, EXIT_TABLE } from './exit-codes.js';
import { exitStatusOf, signalExitStatus, warnIfTimedOut } from './exit-status.js';
import { FullScreenGuard } from './full-screen-guard.js';
import { printJson, shellQuote, warn } from './output.js';
import { readAllStdin } from './read-stdin.js';
import { resolveSession } from './refs.js';
import { usageErrorsExit125 } from './usage-exit.js';
import { WORD_RULE } from './word-rule.js';

interface ExecOptions extends ClientOptions, CommandFlags {
  /** Commander's `--no-stdin`: false when given. */
  stdin?: boolean;
  wait?: boolean;
}

const HELP_AFTER = `
${WORD_RULE}

Output is streamed as the command produces it (exec.stream): standard output
and error are written to trl's own, byte for byte. If trl fell behind and the
daemon's buffer moved on, a notice on stderr says how many bytes were lost.

Standard input: when trl's stdin is not a terminal (a pipe, a file), it is
passed to the command, and its end is the command's end of input, as with
ssh; -n (--no-stdin) gives the command /dev/null instead. A terminal's typing
reaches the command only with -t.

-t runs the command under a pseudo-terminal of the local terminal's size (of
stdout, else stderr; 80x24 when neither is a terminal), with TERM passed on:
stdout and stderr arrive merged, the local terminal is put in raw mode so every
key (Ctrl-C too) goes to the command, and resizing the window resizes the
command's terminal. With piped input, its end is sent as a terminal's end of
input (^D at the program's prompt), as ssh -t does. With -t the default timeout
is none (--timeout to set one).

A session runs one trl exec at a time: --wait waits for the one running to end
instead of failing; trl start runs a command beside it.

SIGINT, SIGTERM and SIGHUP sent to trl are passed on to the command; at the
third, trl stops waiting and leaves the command running (trl attach / trl kill).

--json prints the buffered exec.run result (output as UTF-8 text) instead.

Exit status:
${EXIT_TABLE}

Examples:
  trl exec 'ls -l | wc -l'
  trl exec -s work -- make -j4 test
  tar c dir | trl exec -- sh -c 'tar t | wc -l'
  trl exec -t -s work -- vim notes.txt`;

/** `trl exec [options] -- CMD...` over `exec.stream` (or `exec.run` with --json). */
export function registerExecCommand(program: Command): void {
  const cmd = program
    .command('exec')
    .description('run a command through the daemon; stream its output and exit with its status')
    .usage('[options] [--] CMD...')
    .argument('<CMD...>', 'one shell command line, or words run as typed (see below)')
    .option('-s, --session <session>', 'run in this session: its id, a unique id prefix, or its name (default: a fresh session, destroyed afterwards)')
    .option('--cwd <dir>', "this command's working directory, relative to the session's cwd (without -s: the daemon's default_working_dir)")
    .option('-e, --env <NAME=VALUE>', 'variable for this command only (repeatable)', collectEnv)
    .option('--timeout <seconds>', 'kill the command after this long (0 = none; default: the session timeout, none with -t)', parseSeconds)
    .option('-n, --no-stdin', "give the command /dev/null as stdin even when trl's stdin is a pipe or a file")
    .option('-t, --tty', 'run under a pseudo-terminal, interactively (raw local terminal, window size follows)')
    .option('--no-shell', 'run the words as a program and its arguments, without the session shell (no cd/export kept)')
    .option('--wait', 'if the session is running another trl exec, wait for it to end instead of failing')
    .passThroughOptions()
    .addHelpText('after', HELP_AFTER);
  usageErrorsExit125(cmd);
  addClientOptions(cmd);

  cmd.action(async (words: string[], given: ExecOptions) => {
    // An interactive terminal session has no timeout unless asked for.
    const opts = given.tty && given.timeout === undefined ? { ...given, timeout: 0 } : given;
    await runWithClient(
      opts,
      async (client) => {
        if (opts.session !== undefined) opts.session = await resolveSession(client, opts.session);
        return opts.json ? runBuffered(client, words, opts) : runStreamed(client, words, opts);
      },
      EXIT.EXEC_TRL_FAILED,
      (err) => spawnFailureStatus(err),
    );
  });
}

/** Whether trl's stdin goes to the command: a pipe or a file does (as ssh), a terminal only with -t. */
function forwardsStdin(opts: ExecOptions): boolean {
  if (opts.stdin === false) return false;
  return opts.tty === true || !process.stdin.isTTY;
}

/** exec.stream: output as it comes, stdin and signals passed on. */
async function runStreamed(client: AnyTrlClient, words: string[], opts: ExecOptions): Promise<number> {
  const params = commandParams(words, opts);
  if (forwardsStdin(opts)) params.stdin_open = true;
  params.encoding = 'base64';
  const stream = await callWhenFree(client, opts, () => client.stream('exec.stream', params));
  // Without a terminal of its own, a full-screen program draws on trl's: put that terminal back afterwards.
  const guard = opts.tty ? null : new FullScreenGuard();
  const outcome = await runAttached({
    client,
    commandId: stream.command_id,
    events: stream.events,
    input: params.stdin_open === true,
    pty: opts.tty === true,
    detachKeys: false,
    signals: 'forward',
    watch: guard?.watch,
  });
  guard?.restore();
  if (outcome.kind === 'detached') {
    const id = stream.command_id;
    warn(`stopped waiting; command ${id} keeps running (trl attach ${id.slice(0, 8)}, trl kill ${id.slice(0, 8)})`);
    return outcome.signal ? signalExitStatus(outcome.signal) : EXIT.OK;
  }
  warnIfTimedOut(outcome.end);
  const status = exitStatusOf(outcome.end);
  hintIfNotFound(status, words, opts);
  return status;
}

/** --json: the buffered exec.run result. */
async function runBuffered(client: AnyTrlClient, words: string[], opts: ExecOptions): Promise<number> {
  const { stdin_open: _interactive, ...rest } = commandParams(words, opts);
  const params: ParamsOf<'exec.run'> = rest;
  if (forwardsStdin(opts) && !opts.tty) {
    params.stdin = (await readAllStdin()).toString('base64');
    params.stdin_encoding = 'base64';
  }
  // Output readable as text in the JSON.
  params.encoding = 'utf8';
  const result = await callWhenFree(client, opts, () => client.call('exec.run', params));
  printJson(result);
  return exitStatusOf(result);
}

/**
 * Start the command; when its session is busy with another foreground
 * command, say which and how to run beside it — or, with --wait, wait for it
 * to end and start then.
 */
async function callWhenFree<T>(client: AnyTrlClient, opts: ExecOptions, start: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof TrlClientError) || err.code !== 'SESSION_BUSY') throw err;
      const holder = typeof err.details?.['command_id'] === 'string' ? err.details['command_id'] : null;
      if (!opts.wait || holder === null) throw await busyError(client, holder);
      await client.call('exec.wait', { command_id: holder }).catch(() => undefined);
    }
  }
}

/** SESSION_BUSY in the CLI's terms: the command that holds the session, and the ways around it. */
async function busyError(client: AnyTrlClient, holder: string | null): Promise<Error> {
  let what = holder ?? 'another command';
  if (holder !== null) {
    const info = await client.call('exec.info', { command_id: holder }).catch(() => null);
    if (info) what = `${holder.slice(0, 8)} (${(info.command ?? '').slice(0, 60)}, running for ${Math.round((Date.now() - Date.parse(info.started_at)) / 1000)} s)`;
  }
  return new TrlClientError({
    code: 'SESSION_BUSY',
    message: `the session is running ${what}: run beside it with trl start, wait for it with trl exec --wait, or stop it with trl kill ${holder?.slice(0, 8) ?? 'ID'}`,
  });
}

/** SPAWN_FAILED as shells report it: 127 for a program not found, 126 for one that cannot run; else trl's own failure. */
function spawnFailureStatus(err: unknown): number | undefined {
  if (!(err instanceof TrlClientError) || err.code !== 'SPAWN_FAILED') return undefined;
  const errno = err.details?.['errno'];
  if (errno === undefined || errno === 'ENOENT' || err.details?.['program'] !== undefined) return EXIT.EXEC_NOT_FOUND;
  return EXIT.EXEC_CANNOT_RUN;
}

/** Several words whose first holds a space, not found: probably a command line meant as one word. */
function hintIfNotFound(status: number, words: string[], opts: ExecOptions): void {
  const first = words[0] ?? '';
  if (status !== EXIT.EXEC_NOT_FOUND || words.length < 2 || !/\s/.test(first) || opts.shell === false) return;
  warn(`${shellQuote(first)} was run as one word (a program name); to run a shell command line, give the whole line as one word: trl exec -- ${shellQuote(words.join(' '))}`);
}
