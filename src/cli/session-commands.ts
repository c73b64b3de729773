import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { Runtime } from '../protocol/common.js';
import type { ParamsOf, ResultOf } from '../protocol/methods.js';
import { collectEnv, parseWholeSeconds } from './arg-parsers.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { formatFields, formatTable, printJson } from './output.js';

interface CreateOptions extends ClientOptions {
  name?: string;
  cwd?: string;
  shell?: string;
  env?: Record<string, string>;
  timeout?: number;
  runtime?: 'host' | 'sandbox' | 'docker';
}

interface RmOptions extends ClientOptions {
  force?: boolean;
}

/** `trl session create|ls|info|rm`. */
export function registerSessionCommands(program: Command): void {
  const session = program
    .command('session')
    .description('create, list, inspect and destroy sessions');

  addClientOptions(
    session
      .command('create')
      .description('create a session and print its id')
      .option('--name <name>', 'human label, unique among live sessions')
      .option('--cwd <dir>', "initial working directory (default: the daemon's default_working_dir)")
      .option('--shell <path>', 'absolute path of the shell that runs commands (default /bin/sh)')
      .option('-e, --env <NAME=VALUE>', 'session variable (repeatable); values are never shown again', collectEnv)
      .option('--timeout <seconds>', 'default per-command timeout, whole seconds (0 = none)', parseWholeSeconds)
      .addOption(new Option('--runtime <tier>', 'isolation tier (default: the daemon default)').choices(Runtime.options)),
  ).action(async (opts: CreateOptions) => {
    await runWithClient(opts, async (client) => {
      const params: ParamsOf<'session.create'> = {};
      if (opts.name !== undefined) params.name = opts.name;
      if (opts.cwd !== undefined) params.working_dir = resolve(opts.cwd);
      if (opts.shell !== undefined) params.shell = opts.shell;
      if (opts.env !== undefined) params.env = opts.env;
      if (opts.timeout !== undefined) params.timeout_s = opts.timeout;
      if (opts.runtime !== undefined) params.runtime = opts.runtime;
      const data = await client.call('session.create', params);
      if (opts.json) printJson(data);
      else process.stdout.write(data.session_id + '\n');
    });
  });

  addClientOptions(session.command('ls').alias('list').description('list live sessions')).action(
    async (opts: ClientOptions) => {
      await runWithClient(opts, async (client) => {
        const data = await client.call('session.list', {});
        if (opts.json) printJson(data);
        else process.stdout.write(formatSessionList(data.sessions));
      });
    },
  );

  addClientOptions(
    session.command('info').description("show one session (variable names only, never values)").argument('<id>', 'session id'),
  ).action(async (id: string, opts: ClientOptions) => {
    await runWithClient(opts, async (client) => {
      const data = await client.call('session.info', { session_id: id });
      if (opts.json) printJson(data);
      else process.stdout.write(formatSessionInfo(data));
    });
  });

  addClientOptions(
    session
      .command('rm')
      .alias('destroy')
      .description('destroy a session: kill every process it started and release its resources')
      .argument('<id>', 'session id')
      .option('--force', 'SIGKILL at once, without the SIGTERM grace period'),
  ).action(async (id: string, opts: RmOptions) => {
    await runWithClient(opts, async (client) => {
      const params: ParamsOf<'session.destroy'> = { session_id: id };
      if (opts.force) params.force = true;
      const data = await client.call('session.destroy', params);
      if (opts.json) printJson(data);
      else {
        const n = data.killed_processes;
        process.stdout.write(`${data.session_id} terminated (${n} process${n === 1 ? '' : 'es'} killed)\n`);
      }
    });
  });
}

type SessionInfo = ResultOf<'session.info'>;

function formatSessionList(sessions: SessionInfo[]): string {
  if (sessions.length === 0) return 'no live sessions\n';
  return formatTable([
    ['ID', 'NAME', 'TIER', 'STATE', 'CMDS', 'RUNNING', 'CWD'],
    ...sessions.map((s) => [
      s.session_id,
      s.name ?? '-',
      s.runtime,
      s.state,
      String(s.command_count),
      String(s.running.length),
      s.working_dir,
    ]),
  ]);
}

function formatSessionInfo(s: SessionInfo): string {
  const limits = Object.entries(s.limits ?? {}).map(([k, v]) => `${k}=${v}`);
  return formatFields([
    ['id', s.session_id],
    ['name', s.name ?? '-'],
    ['tier', s.runtime],
    ['state', s.state],
    ['shell', s.shell],
    ['cwd', s.working_dir],
    ['workspace', s.workspace],
    ['env keys', s.env_keys.length > 0 ? s.env_keys.join(' ') : '-'],
    ['timeout', s.timeout_s === 0 ? 'none' : `${s.timeout_s}s`],
    ['commands run', String(s.command_count)],
    ['running', s.running.length > 0 ? s.running.join(' ') : '-'],
    ['created', s.created_at],
    ['last activity', s.last_activity],
    ['limits', limits.length > 0 ? limits.join(' ') : '-'],
  ]);
}
