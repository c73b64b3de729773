import type { Command } from 'commander';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { Logger } from '../server/logger.js';
import { addConfigFlags, configFromFlags } from './config-flags.js';
import { execWithDaemonNodeFlags, warnWithoutDaemonNodeFlags } from './daemon-node-flags.js';
import { EXIT } from './exit-codes.js';
import { shellQuote, warn } from './output.js';

const HELP_AFTER = `
Every setting can also come from its TRL_* environment variable; a flag wins
over the variable. Logs go to stderr; once the daemon listens, stdout gets two
lines: the socket, and a command to try. SIGTERM or SIGINT shut it down
gracefully (running commands are cancelled, every session's processes killed,
the socket removed); the exit status is then 0. Exit status 2: bad
configuration; 1: the daemon refused to start (the message says why and what
to do).`;

/** `trl serve`: run the daemon in the foreground. */
export function registerServeCommand(program: Command): void {
  const cmd = program.command('serve').description('run the trl daemon in the foreground on a Unix socket').addHelpText('after', HELP_AFTER);
  addConfigFlags(cmd);
  cmd.action(async (_opts: unknown, self: Command) => {
    process.exitCode = await serve(self);
  });
}

async function serve(cmd: Command): Promise<number> {
  const config = configFromFlags(cmd);
  if (!config) return EXIT.USAGE;
  // Started without the daemon's Node flags (the `trl` shebang has none): executed again with them, or told why not.
  const flagsProblem = await execWithDaemonNodeFlags();

  // Loaded here, not at the top: client commands never pay for the server's code.
  const [{ startDaemon }, { createLogger }, { StartupError }] = await Promise.all([import('../server/daemon.js'), import('../server/logger.js'), import('../server/startup-error.js')]);
  let log;
  try {
    log = createLogger(config.log_level, config.log_file);
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    warn(err.message);
    return EXIT.FAILURE;
  }
  if (flagsProblem) warnWithoutDaemonNodeFlags(log, flagsProblem, 'serve');
  let daemon;
  try {
    daemon = await startDaemon(config, log);
  } catch (err) {
    if (err instanceof StartupError) warn(err.message);
    else warn(`the daemon failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await flush(log);
    return EXIT.FAILURE;
  }

  const where = [daemon.unixSocket ? `unix:${daemon.socketPath}` : null, daemon.httpUrl].filter(Boolean).join(' and ');
  const tryIt = daemon.unixSocket ? `trl ping --socket ${shellQuote(daemon.socketPath)}` : `TRL_AUTH_TOKEN=… trl ping --url ${shellQuote(daemon.httpUrl ?? '')}`;
  process.stdout.write(`trl ${PROTOCOL_VERSION} listening on ${where} (default tier: ${config.runtime})\ntry: ${tryIt}\n`);

  let status: number = EXIT.OK;
  try {
    await daemon.closed;
  } catch (err) {
    warn(`the daemon stopped with an error: ${err instanceof Error ? err.message : String(err)}`);
    status = EXIT.FAILURE;
  }
  await flush(log);
  // The daemon has closed everything it owns; do not wait on anything a library left behind.
  process.exit(status);
}

function flush(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}
