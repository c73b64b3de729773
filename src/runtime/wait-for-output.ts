import type { Command } from './command.js';
import type { OutputBuffer } from './output-buffer.js';

/** Resolve once `buf` holds bytes past `offset`, the command completes, or `ms` pass (exec.output long-poll). */
export function waitForOutput(cmd: Command, buf: OutputBuffer, offset: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    // Neither the timer nor a watcher runs before both are set up.
    const finish = () => {
      stop();
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    const stop = cmd.watch(() => {
      if (buf.total > offset || !cmd.running) finish();
    });
  });
}
