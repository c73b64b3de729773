import type { Command } from 'commander';
import type { ParamsOf } from '../protocol/methods.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { printJson } from './output.js';
import { resolveSession } from './refs.js';
import { addCreateFlags, createParams, type CreateFlags } from './session-create-flags.js';
import { formatSessionInfo, formatSessionList } from './session-format.js';
import { addUpdateFlags, updateParams, type UpdateFlags } from './session-update-flags.js';

interface RmOptions extends ClientOptions {
  force?: boolean;
}

/** `trl session create|ls|info|rm`. */
export function registerSessionCommands(program: Command): void {
  const session = program.command('session').description('create, list, inspect, change and destroy sessions');

  addClientOptions(addCreateFlags(session.command('create').description('create a session and print its id'))).action(async (opts: CreateFlags & ClientOptions, self: Command) => {
    await runWithClient(opts, async (client) => {
      const data = await client.call('session.create', createParams(opts, self));
      if (opts.json) printJson(data);
      else process.stdout.write(data.session_id + '\n');
    });
  });

  addClientOptions(session.command('ls').alias('list').description('list live sessions')).action(async (opts: ClientOptions) => {
    await runWithClient(opts, async (client) => {
      const data = await client.call('session.list', {});
      if (opts.json) printJson(data);
      else process.stdout.write(formatSessionList(data.sessions));
    });
  });

  addClientOptions(session.command('info').description('show one session (variable names only, never values)').argument('<session>', 'session name, id, or unique id prefix')).action(
    async (id: string, opts: ClientOptions) => {
      await runWithClient(opts, async (client) => {
        const data = await client.call('session.info', { session_id: await resolveSession(client, id) });
        if (opts.json) printJson(data);
        else process.stdout.write(formatSessionInfo(data));
      });
    },
  );

  addClientOptions(
    addUpdateFlags(
      session
        .command('update')
        .description('change a session between commands: variables, cwd, name, default timeout, secret keys, redaction')
        .argument('<session>', 'session name, id, or unique id prefix'),
    ),
  ).action(async (id: string, opts: UpdateFlags & ClientOptions, self: Command) => {
    await runWithClient(opts, async (client) => {
      const data = await client.call('session.update', updateParams(await resolveSession(client, id), opts, self));
      if (opts.json) printJson(data);
      else process.stdout.write(formatSessionInfo(data));
    });
  });

  addClientOptions(
    session
      .command('rm')
      .alias('destroy')
      .description('destroy a session: kill every process it started and release its resources')
      .argument('<session>', 'session name, id, or unique id prefix')
      .option('--force', 'SIGKILL at once, without the SIGTERM grace period'),
  ).action(async (id: string, opts: RmOptions) => {
    await runWithClient(opts, async (client) => {
      const params: ParamsOf<'session.destroy'> = { session_id: await resolveSession(client, id) };
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
