import { Command } from 'commander';
import { PROTOCOL_VERSION } from '../protocol/version.js';

/**
 * The modules that define `trl`'s commands, in the order `trl --help` lists
 * them, each with the top-level command names it registers. A call loads the
 * one module it names (a `trl ping` never loads zod, the config schema or
 * the exec machinery); `--help`, a bare `trl` and an unknown name load them
 * all, so the help and commander's suggestions stay complete.
 */
export const COMMAND_MODULES: ReadonlyArray<{ names: readonly string[]; load: () => Promise<(program: Command) => void> }> = [
  { names: ['serve'], load: async () => (await import('./serve-command.js')).registerServeCommand },
  { names: ['rpc'], load: async () => (await import('./rpc-command.js')).registerRpcCommand },
  { names: ['doctor'], load: async () => (await import('./doctor-command.js')).registerDoctorCommand },
  { names: ['mcp'], load: async () => (await import('./mcp-command.js')).registerMcpCommand },
  { names: ['ping', 'stats', 'info'], load: async () => (await import('./system-commands.js')).registerSystemCommands },
  { names: ['session'], load: async () => (await import('./session-commands.js')).registerSessionCommands },
  { names: ['exec'], load: async () => (await import('./exec-command.js')).registerExecCommand },
  { names: ['start'], load: async () => (await import('./start-command.js')).registerStartCommand },
  { names: ['ps'], load: async () => (await import('./ps-command.js')).registerPsCommand },
  { names: ['logs'], load: async () => (await import('./logs-command.js')).registerLogsCommand },
  { names: ['kill'], load: async () => (await import('./kill-command.js')).registerKillCommand },
  { names: ['attach'], load: async () => (await import('./attach-command.js')).registerAttachCommand },
  { names: ['shell'], load: async () => (await import('./shell-command.js')).registerShellCommand },
  { names: ['audit'], load: async () => (await import('./audit-command.js')).registerAuditCommand },
  { names: ['fs'], load: async () => (await import('./fs-command.js')).registerFsCommand },
  { names: ['dashboard'], load: async () => (await import('./dashboard-command.js')).registerDashboardCommand },
];

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
  // Loaded together, registered in table order: the help lists them in that order.
  const registers = await Promise.all(modulesFor(argv).map((m) => m.load()));
  for (const register of registers) register(program);
  // Subcommands print a one-line hint, not the whole help, after a usage error.
  for (const cmd of allSubcommands(program)) cmd.showHelpAfterError(`(run '${commandPath(cmd)} --help' for usage)`);
  return program;
}

/**
 * The modules a command line needs: the one defining its command (also for
 * `trl help <command>`), none for `trl --version` (the program prints it
 * before any command would run), or all of them. The daemon (`serve`) thus
 * loads no client code: every byte of it would stay resident.
 */
export function modulesFor(argv: readonly string[]): typeof COMMAND_MODULES {
  if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) return [];
  const name = argv[2] === 'help' ? argv[3] : argv[2];
  const one = COMMAND_MODULES.find((m) => name !== undefined && m.names.includes(name));
  return one ? [one] : COMMAND_MODULES;
}

function allSubcommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allSubcommands(c)]);
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
