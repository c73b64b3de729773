import type { Command } from 'commander';
import { TrlClient } from '../client/client.js';
import { defaultSocketPath } from '../protocol/transport.js';
import { EXIT } from './exit-codes.js';
import { reportError } from './output.js';

/** Options every client command takes. */
export interface ClientOptions {
  socket: string;
  json?: boolean;
}

/** Add `--socket <path>` and `--json` to a client command. */
export function addClientOptions(cmd: Command): Command {
  return cmd
    .option('--socket <path>', 'socket of the daemon to talk to (env TRL_SOCKET_PATH)', defaultSocketPath())
    .option('--json', 'print the raw response data as JSON');
}

/**
 * Connect to the daemon, run `fn`, close. Any failure (no daemon, daemon error)
 * is reported on stderr and sets the exit status to `failureExit`; on success
 * the exit status is whatever `fn` returns.
 */
export async function runWithClient(
  opts: ClientOptions,
  fn: (client: TrlClient) => Promise<number | void>,
  failureExit: number = EXIT.FAILURE,
): Promise<void> {
  let client: TrlClient | undefined;
  try {
    client = await TrlClient.connect({ socketPath: opts.socket });
    process.exitCode = (await fn(client)) ?? EXIT.OK;
  } catch (err) {
    reportError(err);
    process.exitCode = failureExit;
  } finally {
    client?.close();
  }
}
