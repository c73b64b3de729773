import { Socket } from 'node:net';
import type { FifoPool } from '../shared/fifo-pool.js';
import { SpawnError } from '../shared/spawn-error.js';

/**
 * A pipe the host-side shell opens by path, holding the command's
 * environment: its length as a decimal line, then NAME=value entries
 * separated by NUL bytes (seccomp/launcher.ts reads it). A terminal's child
 * inherits no extra descriptor, and values must not travel in an argv.
 * `release` (after the command has exited) closes and removes it.
 */
export function envChannel(fifos: FifoPool | null, env: Record<string, string>): { path: string; release: () => void } {
  if (!fifos) throw new SpawnError('the sandbox tier needs mkfifo (coreutils) to pass a command its environment', 'ENOENT');
  const ch = fifos.forChild();
  const body = Buffer.from(
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}\0`)
      .join(''),
  );
  const payload = Buffer.concat([Buffer.from(`${body.length}\n`), body]);
  const writer = new Socket({ fd: ch.write, readable: false, writable: true });
  writer.on('error', () => undefined); // the command ended before reading it all
  // The held read end keeps what is written until the shell opens the pipe, whenever that is.
  writer.end(payload, () => writer.destroy());
  return {
    path: ch.path,
    release: () => {
      writer.destroy();
      ch.release();
    },
  };
}
