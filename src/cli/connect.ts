import type { Command } from 'commander';
import { connectTrl, type AnyTrlClient } from '../client/connect.js';
import { defaultSocketPath } from '../protocol/transport.js';
import { EXIT } from './exit-codes.js';
import { reportError } from './output.js';

/** Options every client command takes. */
export interface ClientOptions {
  socket: string;
  url?: string;
  json?: boolean;
}

/** Add `--socket <path>` and `--json` to a client command. */
export function addClientOptions(cmd: Command): Command {
  return cmd
    .option('--socket <path>', 'socket of the daemon to talk to (env TRL_SOCKET_PATH)', defaultSocketPath())
    .option('--url <url>', 'talk to a daemon over HTTP(S) or WebSocket instead (http://127.0.0.1:8080, ws://…); the token comes from TRL_AUTH_TOKEN (env TRL_URL)', process.env.TRL_URL)
    .option('--json', 'print the raw response data as JSON');
}

/**
 * Connect to the daemon, run `fn`, close. Any failure (no daemon, daemon error)
 * is reported on stderr and sets the exit status to `failureExit`; on success
 * the exit status is whatever `fn` returns.
 */
export async function runWithClient(
  opts: ClientOptions,
  fn: (client: AnyTrlClient) => Promise<number | void>,
  failureExit: number = EXIT.FAILURE,
  /** A more precise status for some failures (exec: a program not found is 127). */
  statusOf?: (err: unknown) => number | undefined,
): Promise<void> {
  let client: AnyTrlClient | undefined;
  try {
    client = await connectTrl(opts.url ? { url: opts.url, token: process.env.TRL_AUTH_TOKEN ?? '' } : { socketPath: opts.socket });
    process.exitCode = (await fn(client)) ?? EXIT.OK;
  } catch (err) {
    reportError(err);
    process.exitCode = statusOf?.(err) ?? failureExit;
  } finally {
    client?.close();
  }
}
