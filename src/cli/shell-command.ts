import { accessSync, constants } from 'node:fs';
import type { Command } from 'commander';
import type { AnyTrlClient } from '../client/connect.js';
import type { ResultOf } from '../protocol/methods.js';
import { attachToCommand } from './attach-command.js';
import { resolveSession } from './refs.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { DETACH_KEYS_HELP } from './detach-keys.js';
import { EXIT } from './exit-codes.js';
import { printJson, shellQuote, warn } from './output.js';
import { remoteTerm, terminalSize } from './terminal.js';
import { usageErrorsExit125 } from './usage-exit.js';

interface ShellOptions extends ClientOptions {
  session?: string;
}

type CommandInfo = ResultOf<'exec.info'>;

const HELP_AFTER = `
Runs the session's shell interactively (\`<shell> -i\`) under a
pseudo-terminal, in the background (exec.start, no timeout), and attaches to
it. Detach with ${DETACH_KEYS_HELP}: the shell keeps running, with its cwd, variables
and jobs. \`trl shell -s ID\` later, from any terminal, joins that same shell
again (or trl attach CMDID); only when the session has no such shell running is
a new one started. Without -s, a new session is created and its id printed on
stderr. Typing \`exit\` ends the shell; the session stays (trl session rm ID).

The shell runs beside the session's foreground commands: its cd and exports do
not change the session state that trl exec sees.

Exit status: the shell's own when it ends; 0 after a detach; 125 when trl fails.

--json does not attach: it finds or starts the shell and prints
{session_id, command_id, started} (for trl attach, or exec.input from a program).

Examples:
  trl shell                 # new session, new shell
  trl shell -s work         # join the shell of session "work" (or start it)`;

/** `trl shell [-s ID]`: a detachable interactive shell in a session. */
export function registerShellCommand(program: Command): void {
  const cmd = program
    .command('shell')
    .description('an interactive shell in a session that survives detaching (Ctrl-P Ctrl-Q)')
    .option('-s, --session <session>', 'join (or start) the shell of this session: id, unique id prefix or name (default: a new session)')
    .addHelpText('after', HELP_AFTER);
  usageErrorsExit125(cmd);
  addClientOptions(cmd);

  cmd.action(async (opts: ShellOptions) => {
    await runWithClient(
      opts,
      async (client) => {
        const sessionId = opts.session !== undefined ? await resolveSession(client, opts.session) : await newSession(client, opts.json === true);
        const { info, started } = await findOrStartShell(client, sessionId, opts.json === true);
        if (opts.json) {
          printJson({ session_id: sessionId, command_id: info.command_id, started });
          return EXIT.OK;
        }
        return attachToCommand(client, info, { reattach: `trl shell -s ${shellQuote(sessionId)}` });
      },
      EXIT.EXEC_TRL_FAILED,
    );
  });
}

async function newSession(client: AnyTrlClient, quiet: boolean): Promise<string> {
  const s = await client.call('session.create', {});
  if (!quiet) warn(`new session ${s.session_id}`);
  return s.session_id;
}

/** The session's running `trl shell` shell (the oldest, if several), else a new one. */
async function findOrStartShell(client: AnyTrlClient, sessionId: string, quiet: boolean): Promise<{ info: CommandInfo; started: boolean }> {
  const session = await client.call('session.info', { session_id: sessionId });
  const argv = [interactiveShell(session.shell, session.runtime), '-i'];
  const { commands } = await client.call('exec.list', { session_id: sessionId });
  const existing = commands.filter((c) => c.state === 'running' && c.pty && c.background && isCommandText(c.command, argv)).sort((a, b) => a.started_at.localeCompare(b.started_at))[0];
  if (existing) return { info: existing, started: false };

  const started = await client.call('exec.start', {
    session_id: sessionId,
    argv,
    pty: terminalSize(),
    stdin_open: true,
    timeout_s: 0,
    env: { TERM: remoteTerm() },
  });
  if (!quiet) warn(`started shell ${started.command_id} in session ${sessionId}`);
  return { info: await client.call('exec.info', { command_id: started.command_id }), started: true };
}

/**
 * The shell to be interactive in: the session's, unless that is the plain
 * /bin/sh default (dash: no history, no line editing), then the user's $SHELL
 * or bash when this machine has it (the host's /usr is the sandbox's too; a
 * container has only its image's shells, so docker keeps the session's).
 */
function interactiveShell(sessionShell: string, tier: string): string {
  if (sessionShell !== '/bin/sh' || tier === 'docker') return sessionShell;
  for (const candidate of [process.env['SHELL'], '/bin/bash', '/usr/bin/bash']) {
    if (candidate && candidate.startsWith('/') && isExecutable(candidate)) return candidate;
  }
  return sessionShell;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether exec.list's `command` text is this argv (joined with spaces, quoted or not). */
function isCommandText(text: string | null, argv: string[]): boolean {
  return text === argv.join(' ') || text === argv.map(shellQuote).join(' ');
}
