import { Command } from 'commander';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerServeCommand } from './serve-command.js';

/** The `trl` command line: the daemon (`serve`) and thin client commands over the SDK. */
export async function createProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command('trl')
    .description('Terminal Runtime Layer: a daemon that runs commands for AI agents, and its client')
    .version(PROTOCOL_VERSION, '-V, --version', 'print the version')
    .enablePositionalOptions()
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'trl: ')) })
    // Throw instead of exiting, so main() picks the exit status (usage errors: 2).
    .exitOverride();
  registerServeCommand(program);
  registerDoctorCommand(program);
  // The daemon process loads no client code: every byte of it would stay resident.
  if (argv[2] !== 'serve') await registerClientCommands(program);
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

async function registerClientCommands(program: Command): Promise<void> {
  const [system, session, exec, start, ps, logs, kill, attach, shell, audit] = await Promise.all([
    import('./system-commands.js'),
    import('./session-commands.js'),
    import('./exec-command.js'),
    import('./start-command.js'),
    import('./ps-command.js'),
    import('./logs-command.js'),
    import('./kill-command.js'),
    import('./attach-command.js'),
    import('./shell-command.js'),
    import('./audit-command.js'),
  ]);
  system.registerSystemCommands(program);
  session.registerSessionCommands(program);
  exec.registerExecCommand(program);
  start.registerStartCommand(program);
  ps.registerPsCommand(program);
  logs.registerLogsCommand(program);
  kill.registerKillCommand(program);
  attach.registerAttachCommand(program);
  shell.registerShellCommand(program);
  audit.registerAuditCommand(program);
  (await import('./fs-command.js')).registerFsCommand(program);
}
