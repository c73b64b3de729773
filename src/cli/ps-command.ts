import type { Command } from 'commander';
import type { AnyTrlClient } from '../client/connect.js';
import type { ResultOf } from '../protocol/methods.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { formatDuration, formatTable, printJson } from './output.js';
import { resolveSession } from './refs.js';

interface PsOptions extends ClientOptions {
  session?: string;
}

type CommandInfo = ResultOf<'exec.info'>;

const HELP_AFTER = `
Lists the commands of one session (-s: id, unique id prefix or name), or of
every live session: running ones and finished ones still retained
(command_retention_s, default 300 s). SESSION shows the session's name when it
has one. EXIT is the exit status, or the signal that killed the command. IDs
are shortened; any unique prefix works with trl logs, attach and kill. --json
prints {commands: [...]} with every field of exec.info.`;

/** `trl ps [-s ID]` over `exec.list`. */
export function registerPsCommand(program: Command): void {
  const cmd = program
    .command('ps')
    .description('list the commands of a session, or of all sessions')
    .option('-s, --session <session>', 'only this session (id, unique id prefix or name)')
    .addHelpText('after', HELP_AFTER);
  addClientOptions(cmd);

  cmd.action(async (opts: PsOptions) => {
    await runWithClient(opts, async (client) => {
      const { sessions } = await client.call('session.list', {});
      const names = new Map(sessions.map((s) => [s.session_id, s.name]));
      const only = opts.session === undefined ? undefined : await resolveSession(client, opts.session);
      const commands = only !== undefined ? await listCommands(client, only) : (await listCommands(client, undefined)).filter((c) => names.has(c.session_id));
      if (opts.json) printJson({ commands });
      else process.stdout.write(formatCommands(commands, names, Date.now()));
    });
  });
}

async function listCommands(client: AnyTrlClient, sessionId: string | undefined): Promise<CommandInfo[]> {
  const params = sessionId === undefined ? {} : { session_id: sessionId };
  return (await client.call('exec.list', params)).commands;
}

/** Short ids, as docker shows them: 8 characters are unique among a daemon's few hundred commands, and any prefix resolves. */
const SHORT = 8;

function formatCommands(commands: CommandInfo[], names: Map<string, string | null>, now: number): string {
  if (commands.length === 0) return 'no commands\n';
  return formatTable([
    ['ID', 'SESSION', 'STATE', 'EXIT', 'PID', 'STARTED', 'COMMAND'],
    ...commands.map((c) => [
      c.command_id.slice(0, SHORT),
      names.get(c.session_id) ?? c.session_id.slice(0, SHORT),
      c.state,
      exitColumn(c),
      String(c.pid),
      startedColumn(c.started_at, now),
      commandColumn(c),
    ]),
  ]);
}

function exitColumn(c: CommandInfo): string {
  if (c.state === 'running') return '-';
  if (c.signal) return c.signal;
  return c.exit_code === null ? '?' : String(c.exit_code);
}

function startedColumn(startedAt: string, now: number): string {
  const t = Date.parse(startedAt);
  if (Number.isNaN(t)) return startedAt;
  return `${formatDuration(Math.max(0, (now - t) / 1000))} ago`;
}

/** One line: newlines and tabs shown escaped; `[pty]` marks a pseudo-terminal. */
function commandColumn(c: CommandInfo): string {
  const text = (c.command ?? '-').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  return c.pty ? `[pty] ${text}` : text;
}
