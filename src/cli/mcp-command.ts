import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { AnyTrlClient } from '../client/connect.js';
import type { Config } from '../config/config-schema.js';
import { CONFIG_ENV } from '../config/config-schema.js';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { Limits } from '../protocol/common.js';
import { defaultSocketPath } from '../protocol/transport.js';
import type { SessionSettings } from '../mcp/session-settings.js';
import { execWithDaemonNodeFlags } from './daemon-node-flags.js';
import { addConfigFlags, configFlagValues } from './config-flags.js';
import { EXIT } from './exit-codes.js';
import { reportError, warn } from './output.js';

interface McpOptions {
  socket?: string;
  url?: string;
  embedded?: boolean;
  workspace?: string;
  network?: boolean;
  limit?: Record<string, number>;
}

const HELP_AFTER = `
Serves the Model Context Protocol on stdin and stdout, for the agents that
launch it (both protocol eras, 2025 and 2026-07-28):
  claude mcp add trl -- trl mcp
  codex mcp add trl -- trl mcp

Tools: run (a command in a session: cd and export persist; returns within its
yield time with a command id when the command runs on), output, input (text
and keys such as Ctrl-C), stop (the whole process tree) and list.

It uses the daemon on --socket (or --url). When none answers on the default
socket it runs a daemon of its own inside this process, on a private socket,
set up by the daemon settings below as trl serve is (--allow-root, --tiers,
--workspace-roots, --max-output-bytes ...).

The sessions it creates are set up by whoever runs it, never by the model:
--runtime (TRL_RUNTIME), --default-working-dir (TRL_DEFAULT_WORKING_DIR),
--workspace, --network, --limit, and --default-timeout-s (default here: no
timeout, since every call returns at its yield time anyway). They are
destroyed, their processes killed, when the client disconnects.

A daemon started with --http serves the same tools at /mcp (Streamable HTTP)
with its bearer token.`;

/** `trl mcp`: the MCP tools over stdio, in front of a daemon (a running one, or its own). */
export function registerMcpCommand(program: Command): void {
  const cmd = program
    .command('mcp')
    .description('serve the MCP tools (run, output, input, stop, list) to an agent over stdio')
    .option('--socket <path>', 'the daemon to use (default: the socket trl serve uses; env TRL_SOCKET_PATH)')
    .option('--url <url>', 'use a daemon over HTTP(S) or WebSocket instead; the token comes from TRL_AUTH_TOKEN (env TRL_URL)', process.env.TRL_URL)
    .option('--embedded', 'always run a daemon of its own inside this process')
    .option('--workspace <dir>', 'sandbox and docker sessions: the one directory they can write (env TRL_MCP_WORKSPACE)')
    .option('--network', 'let sandbox and docker sessions use the network (env TRL_MCP_NETWORK=1)')
    .option('--limit <name=value>', `a resource limit of the sessions (repeatable): ${Object.keys(Limits.shape).join(', ')} (env TRL_MCP_LIMITS, comma-separated)`, collectLimit)
    .addHelpText('after', HELP_AFTER);
  addConfigFlags(cmd);
  cmd.action(async (opts: McpOptions, self: Command) => {
    process.exitCode = await mcp(self, opts);
  });
}

function collectLimit(pair: string, previous: Record<string, number> | undefined): Record<string, number> {
  const m = /^([a-z_]+)=(.+)$/.exec(pair.trim());
  if (!m) throw new InvalidArgumentError(`expected NAME=VALUE, e.g. memory_bytes=1073741824, got '${pair}'`);
  const value = Number(m[2]);
  if (!Number.isFinite(value)) throw new InvalidArgumentError(`the value of ${m[1]} must be a number, got '${m[2]}'`);
  return { ...previous, [m[1]!]: value };
}

async function mcp(cmd: Command, opts: McpOptions): Promise<number> {
  let config: Config;
  let settings: SessionSettings;
  try {
    config = loadConfig(configFlagValues(cmd), process.env);
    settings = sessionSettings(cmd, opts, config);
  } catch (err) {
    if (err instanceof ConfigError) for (const problem of err.problems) warn(problem);
    else warn((err as Error).message);
    return EXIT.USAGE;
  }
  const [{ McpScope }, { serveMcpStdio }, { startEmbeddedDaemon }, { connectTrl }, { TrlClient }] = await Promise.all([
    import('../mcp/scope.js'),
    import('../mcp/stdio-server.js'),
    import('../mcp/embedded-daemon.js'),
    import('../client/connect.js'),
    import('../client/client.js'),
  ]);

  let client: AnyTrlClient | null = null;
  let embedded: Awaited<ReturnType<typeof startEmbeddedDaemon>> | null = null;
  try {
    if (opts.url) client = await connectTrl({ url: opts.url, token: process.env.TRL_AUTH_TOKEN ?? '' });
    else if (!opts.embedded) {
      const given = opts.socket ?? config.socket_path;
      try {
        client = await TrlClient.connect({ socketPath: given ?? defaultSocketPath() });
      } catch (err) {
        // A daemon someone named must be there; on a fresh machine, none is: run one here.
        if (given !== undefined) throw err;
      }
    }
    if (!client) {
      // A daemon of its own runs with the daemon's Node flags: this process executes itself again with them (it then comes back here).
      const flagsProblem = await execWithDaemonNodeFlags();
      if (flagsProblem) warn(`the daemon of trl mcp runs without the daemon's Node flags (${flagsProblem})`);
      const quiet = configFlagValues(cmd).log_level === undefined && !process.env[CONFIG_ENV.log_level];
      embedded = await startEmbeddedDaemon({ ...config, log_level: quiet ? 'warn' : config.log_level });
      client = await TrlClient.connect({ socketPath: embedded.socketPath });
    }
  } catch (err) {
    const { StartupError } = await import('../server/startup-error.js');
    // Its own daemon refused to start (root without --allow-root, a bad workspace root...): the reason, not a stack.
    if (err instanceof StartupError) warn(`${opts.embedded ? '' : 'no trl daemon answers on the default socket, and '}trl mcp could not start a daemon of its own: ${err.message}`);
    else reportError(err);
    if (embedded) await embedded.shutdown('trl mcp could not start');
    return EXIT.FAILURE;
  }

  const scope = McpScope.forConnection(client, settings);
  const serving = serveMcpStdio(scope, (err) => warn(`mcp: ${err.message}`));
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  let onSignal = () => undefined as void;
  const signalled = new Promise<void>((r) => {
    onSignal = () => r();
    for (const s of signals) process.on(s, onSignal);
  });
  await Promise.race([serving.clientGone, signalled, ...(embedded ? [embedded.closed] : [])]);
  // The client went (or we were told to stop): its sessions go with it.
  await serving.close();
  client.close();
  if (embedded) await embedded.shutdown('the MCP client is gone');
  for (const s of signals) process.off(s, onSignal);
  // stdin and the SDK's handles would keep the process; everything of ours is closed.
  process.exit(EXIT.OK);
}

/** The operator's settings of the sessions: flags, then TRL_* variables; the model has no say. */
function sessionSettings(cmd: Command, opts: McpOptions, config: Config): SessionSettings {
  const given = configFlagValues(cmd);
  const env = process.env;
  const set = (key: 'runtime' | 'default_working_dir' | 'default_timeout_s') => given[key] !== undefined || Boolean(env[CONFIG_ENV[key]]);
  const settings: SessionSettings = { timeout_s: set('default_timeout_s') ? config.default_timeout_s : 0 };
  if (set('runtime')) settings.runtime = config.runtime;
  if (set('default_working_dir') && config.default_working_dir !== undefined) settings.working_dir = config.default_working_dir;
  const workspace = opts.workspace ?? env.TRL_MCP_WORKSPACE;
  if (workspace) settings.workspace = resolve(workspace);
  if (opts.network || /^(1|true|yes)$/i.test(env.TRL_MCP_NETWORK ?? '')) settings.network = true;
  const fromEnv = (env.TRL_MCP_LIMITS ?? '')
    .split(',')
    .filter((p) => p.trim().length > 0)
    .reduce<Record<string, number>>((acc, p) => collectLimit(p, acc), {});
  const limits = { ...fromEnv, ...(opts.limit ?? {}) };
  if (Object.keys(limits).length > 0) {
    const parsed = Limits.safeParse(limits);
    if (!parsed.success) throw new Error(`--limit: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'limits'}: ${i.message}`).join('; ')}`);
    settings.limits = parsed.data;
  }
  return settings;
}
