import type { Command } from 'commander';
import { collectEnv, parseSeconds } from './arg-parsers.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { commandParams, type CommandFlags } from './exec-params.js';
import { printJson, warn } from './output.js';
import { resolveSession } from './refs.js';

interface StartOptions extends ClientOptions, CommandFlags {
  interactive?: boolean;
}

const HELP_AFTER = `
Starts CMD in the background (exec.start) and prints its command id at once;
the command does not hold the session's foreground slot and never changes the
session's cwd or variables. CMD is read as for trl exec (trl exec --help).
It has no timeout unless --timeout gives one (the session's idle and lifetime
limits still end it); trl start says so on stderr when it has one.

Follow it with: trl ps, trl logs ID [-f], trl attach ID, trl kill ID.

-t gives it a pseudo-terminal of the local terminal's size (80x24 when there is
none) and keeps its stdin open, so that trl attach can type into it; -i only
keeps stdin open.

Examples:
  trl session create --name web
  ID=$(trl start -s web -- python3 -m http.server 8000)
  trl logs -f "$ID"
  trl start -s web -t -- top`;

/** `trl start [options] -- CMD...` over `exec.start`. */
export function registerStartCommand(program: Command): void {
  const cmd = program
    .command('start')
    .description('start a command in the background and print its id')
    .usage('[options] [--] CMD...')
    .argument('<CMD...>', 'one shell command line, or a program and its arguments')
    .option('-s, --session <session>', 'run in this session: id, unique id prefix or name (default: a fresh session, destroyed when the command ends)')
    .option('--cwd <dir>', "the command's working directory, relative to the session's cwd")
    .option('-e, --env <NAME=VALUE>', 'variable for this command only (repeatable)', collectEnv)
    .option('--timeout <seconds>', 'kill the command after this long (default: none)', parseSeconds)
    .option('--no-shell', 'run the words as a program and its arguments, without the session shell')
    .option('-t, --tty', 'run under a pseudo-terminal, stdin open (for trl attach)')
    .option('-i, --interactive', 'keep stdin open, for trl attach')
    .passThroughOptions()
    .addHelpText('after', HELP_AFTER);
  addClientOptions(cmd);

  cmd.action(async (words: string[], opts: StartOptions) => {
    await runWithClient(opts, async (client) => {
      if (opts.session !== undefined) opts.session = await resolveSession(client, opts.session);
      const params = commandParams(words, opts);
      if (opts.interactive) params.stdin_open = true;
      const data = await client.call('exec.start', params);
      if (opts.json) printJson(data);
      else process.stdout.write(data.command_id + '\n');
      if (!opts.json && opts.timeout !== undefined && opts.timeout > 0) warn(`it will be killed after ${opts.timeout} s (--timeout)`);
    });
  });
}
