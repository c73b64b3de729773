#!/usr/bin/env node
import { CommanderError } from 'commander';
import { EXIT } from './exit-codes.js';
import { warn } from './output.js';
import { createProgram } from './program.js';
import { dieOfHangup } from './signal-proxy.js';

/** The verbs whose process becomes a daemon, which may execute itself again with the daemon's Node flags (daemon-node-flags.ts). */
const DAEMON_VERBS: ReadonlySet<string> = new Set(['serve', 'rpc', 'mcp']);

async function main(argv: string[]): Promise<void> {
  // Before the streams below touch them: a daemon that executes itself again passes them on as they were.
  if (argv[2] !== undefined && DAEMON_VERBS.has(argv[2])) (await import('./given-descriptors.js')).rememberInheritance();
  // A reader that went away (`trl exec … | head`) ends our output quietly;
  // so does a terminal that hung up (EIO), the way a hangup ends a terminal program.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.OK);
      if (err.code === 'EIO') dieOfHangup();
      throw err;
    });
  }
  try {
    await (await createProgram(argv)).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help / version: 0; `trl` alone: help on stderr, 1 (commander's choice);
      // exec's own override already chose 125; everything else is a usage error.
      const passthrough = err.exitCode === 0 || err.code === 'commander.help' || err.exitCode === EXIT.EXEC_TRL_FAILED;
      process.exitCode = passthrough ? err.exitCode : EXIT.USAGE;
      return;
    }
    warn(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = EXIT.FAILURE;
  }
}

await main(process.argv);
