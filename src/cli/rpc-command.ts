import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SOCKET_FILE } from '../protocol/transport.js';
import type { Logger } from '../server/logger.js';
import { addConfigFlags, configFromFlags } from './config-flags.js';
import { execWithDaemonNodeFlags, warnWithoutDaemonNodeFlags } from './daemon-node-flags.js';
import { EXIT } from './exit-codes.js';
import { warn } from './output.js';

const HELP_AFTER = `
The stdio transport: this process is a daemon whose one client is whoever
started it. NDJSON requests on stdin, responses and events on stdout, exactly
as on the Unix socket (docs/protocol.md); logs on stderr. No socket is served
unless --http is given; the runtime record goes to a private temporary
directory unless --socket-path names one. When stdin ends, the answers still
owed are written, then the daemon shuts down (as on SIGTERM) and exits 0.
A docker session's outer daemon runs the trl inside the container this way
(docs/docker-tier.md). Takes every flag of trl serve.`;

/** `trl rpc`: the daemon, serving its caller on stdin/stdout. */
export function registerRpcCommand(program: Command): void {
  const cmd = program.command('rpc').description('run the trl daemon serving NDJSON on stdin/stdout (the stdio transport)').addHelpText('after', HELP_AFTER);
  addConfigFlags(cmd);
  cmd.action(async (_opts: unknown, self: Command) => {
    process.exitCode = await rpc(self);
  });
}

async function rpc(cmd: Command): Promise<number> {
  let config = configFromFlags(cmd);
  if (!config) return EXIT.USAGE;
  // Before anything is made (the private directory below): executed again with the daemon's Node flags, or told why not.
  const flagsProblem = await execWithDaemonNodeFlags();
  // Its own runtime directory: a `trl rpc` never contends with a daemon on the default socket.
  const privateDir = config.socket_path === undefined ? mkdtempSync(join(tmpdir(), 'trl-rpc-')) : null;
  config = { ...config, unix_socket: false, socket_path: config.socket_path ?? join(privateDir ?? tmpdir(), SOCKET_FILE) };

  const [{ startDaemon }, { createLogger }, { StartupError }] = await Promise.all([import('../server/daemon.js'), import('../server/logger.js'), import('../server/startup-error.js')]);
  let log;
  try {
    log = createLogger(config.log_level, config.log_file);
  } catch (err) {
    if (privateDir) rmSync(privateDir, { recursive: true, force: true });
    if (!(err instanceof StartupError)) throw err;
    warn(err.message);
    return EXIT.FAILURE;
  }
  if (flagsProblem) warnWithoutDaemonNodeFlags(log, flagsProblem, 'rpc');
  let status: number = EXIT.OK;
  try {
    const daemon = await startDaemon(config, log, { input: process.stdin, output: process.stdout });
    await daemon.closed;
  } catch (err) {
    if (err instanceof StartupError) warn(err.message);
    else warn(`the daemon failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    status = EXIT.FAILURE;
  }
  if (privateDir) rmSync(privateDir, { recursive: true, force: true });
  await flush(log);
  // stdout carries the last answers: exit once it has taken them.
  process.stdout.write('', () => process.exit(status));
  return status;
}

function flush(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}
