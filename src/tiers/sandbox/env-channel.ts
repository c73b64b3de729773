import { Socket } from 'node:net';
import type { FifoPool } from '../shared/fifo-pool.js';
import type { NativeSpawner } from '../shared/native-spawn.js';
import { SpawnError } from '../shared/spawn-error.js';

/**
 * A named pipe the command's entry (sandbox-entry.ts) opens by path, holding the command's
 * environment: its length as a decimal line, then NAME=value entries
 * separated by NUL bytes (seccomp/launcher.ts reads it). A terminal's child
 * inherits no extra descriptor, and values must not travel in an argv.
 * `release` (after the command has exited) closes and removes it.
 */
export function envChannel(fifos: FifoPool | null, env: Record<string, string>): { path: string; release: () => void } {
  if (!fifos) throw new SpawnError('the sandbox tier needs mkfifo (coreutils) to pass a command its environment', 'ENOENT');
  const ch = fifos.forChild();
  const writer = new Socket({ fd: ch.write, readable: false, writable: true });
  writer.on('error', () => undefined); // the command ended before reading it all
  // The held read end keeps what is written until the entry opens the pipe, whenever that is.
  writer.end(payload(env), () => writer.destroy());
  return {
    path: ch.path,
    release: () => {
      writer.destroy();
      ch.release();
    },
  };
}

/**
 * The same payload through an anonymous pipe whose read end the command's
 * entry inherits (`fd`, which the spawn closes in the daemon).
 */
export function envPipe(native: NativeSpawner, env: Record<string, string>): { fd: number; release: () => void } {
  const p = native.pipe();
  const writer = new Socket({ fd: p.write, readable: false, writable: true });
  writer.on('error', () => undefined); // the command ended before reading it all
  writer.end(payload(env), () => writer.destroy());
  return { fd: p.read, release: () => writer.destroy() };
}

/** Its length as a decimal line, then NAME=value entries separated by NUL bytes. */
function payload(env: Record<string, string>): Buffer {
  const body = Buffer.from(
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}\0`)
      .join(''),
  );
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}
