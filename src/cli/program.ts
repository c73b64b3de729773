import { Command } from 'commander';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { registerAttachCommand } from './attach-command.js';
import { registerAuditCommand } from './audit-command.js';
import { registerExecCommand } from './exec-command.js';
import { registerKillCommand } from './kill-command.js';
import { registerLogsCommand } from './logs-command.js';
import { registerPsCommand } from './ps-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerSessionCommands } from './session-commands.js';
import { registerShellCommand } from './shell-command.js';
import { registerStartCommand } from './start-command.js';
import { registerSystemCommands } from './system-commands.js';

/** The `trl` command line: the daemon (`serve`) and thin client commands over the SDK. */
export function createProgram(): Command {
  const program = new Command('trl')
    .description('Terminal Runtime Layer: a daemon that runs commands for AI agents, and its client')
    .version(PROTOCOL_VERSION, '-V, --version', 'print the version')
    .enablePositionalOptions()
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'trl: ')) })
    // Throw instead of exiting, so main() picks the exit status (usage errors: 2).
    .exitOverride();
  registerServeCommand(program);
  registerSystemCommands(program);
  registerSessionCommands(program);
  registerExecCommand(program);
  registerStartCommand(program);
  registerPsCommand(program);
  registerLogsCommand(program);
  registerKillCommand(program);
  registerAttachCommand(program);
  registerShellCommand(program);
  registerAuditCommand(program);
  // Subcommands print a one-line hint, not the whole help, after a usage error.
  for (const cmd of allSubcommands(program)) cmd.showHelpAfterError(`(run '${commandPath(cmd)} --help' for usage)`);
  return program;
}

function allSubcommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allSubcommands(c)]);
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
