import type { Command } from 'commander';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { EXIT } from './exit-codes.js';
import { printJson, warn } from './output.js';
import { resolveCommand } from './refs.js';
import { parseSignal } from './signal-names.js';

interface KillOptions extends ClientOptions {
  signal?: NodeJS.Signals;
}

const HELP_AFTER = `
Without --signal: cancel the command (exec.cancel): SIGTERM to its whole
process tree, a grace period, then SIGKILL. Exit status 1 if it was not running.

With --signal: deliver that one signal to its whole process tree (exec.signal)
and nothing more, e.g. --signal INT to interrupt, --signal HUP to reload.
(-s means a session everywhere in trl, so the signal has no short flag.)

ID is a command id or a unique prefix of one (trl ps lists them).

The session survives either way.`;

/** `trl kill ID [--signal SIG]`. */
export function registerKillCommand(program: Command): void {
  const cmd = program
    .command('kill')
    .description('stop a running command (or send it a signal)')
    .argument('<id>', 'command id, or a unique prefix of one')
    .option('--signal <sig>', 'send this signal instead of cancelling (name or number: INT, SIGTERM, 9)', parseSignal)
    .addHelpText('after', HELP_AFTER);
  addClientOptions(cmd);

  cmd.action(async (ref: string, opts: KillOptions) => {
    await runWithClient(opts, async (client) => {
      const id = await resolveCommand(client, ref);
      if (opts.signal !== undefined) {
        const data = await client.call('exec.signal', { command_id: id, signal: opts.signal });
        if (opts.json) printJson(data);
        else process.stdout.write(`sent ${data.signal} to ${id} (${data.delivered} process${data.delivered === 1 ? '' : 'es'})\n`);
        return EXIT.OK;
      }
      const data = await client.call('exec.cancel', { command_id: id });
      if (opts.json) printJson(data);
      if (!data.cancelled.includes(id)) {
        if (!opts.json) warn(`${id} was not running`);
        return EXIT.FAILURE;
      }
      if (!opts.json) process.stdout.write(`cancelled ${id}\n`);
      return EXIT.OK;
    });
  });
}
