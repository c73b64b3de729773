import type Docker from 'dockerode';
import { PassThrough, type Duplex } from 'node:stream';
import { splitOutput } from './demux.js';
import { errorMessage } from '../shared/thrown.js';
import type { Argv } from '../tier.js';

/**
 * The in-container killer (killer.ts) on an engine that shares no filesystem
 * with the daemon, where no control FIFO can carry its answers: its fd 3 is
 * its stdout instead, read through the exec's attached stream. Each line
 * arrives as it is written, so `done` is seen at once — the daemon does not
 * wait for the engine to close the exec's output (which it does only in turn
 * with the container's other exits). Resolves to the lines it answered
 * (`done` cut off) and whether it got that far; throws only when no exec could start.
 */
export async function runKillerOnStdout(container: Docker.Container, opts: { user: string; env: string[]; timeoutMs: number }, killer: Argv): Promise<{ lines: string[]; complete: boolean }> {
  let sock: Duplex;
  try {
    const exec = await container.exec({
      // `exec … 3>&1`: the killer's fd 3 (its answers) is the exec's stdout.
      Cmd: ['/bin/sh', '-c', 'exec "$@" 3>&1', 'trl-kill-out', ...killer],
      Env: opts.env,
      User: opts.user,
      WorkingDir: '/',
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    sock = await exec.start({ hijack: true, stdin: false, Detach: false, Tty: false });
  } catch (err) {
    throw new Error(`the in-container kill exec could not start: ${errorMessage(err)}`, { cause: err });
  }
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  sock.on('error', () => undefined);
  splitOutput(sock, stdout, stderr, { tty: false, marker: null });
  stderr.resume();
  const lines: string[] = [];
  let pending = '';
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, opts.timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        resolve();
      };
      stdout.on('data', (chunk: Buffer) => {
        const parts = (pending + chunk.toString('utf8')).split('\n');
        pending = parts.pop() ?? '';
        for (const l of parts) if (l) lines.push(l);
        if (lines.at(-1) === 'done') finish();
      });
      stdout.once('end', finish);
    });
  } finally {
    sock.destroy();
  }
  const complete = lines.at(-1) === 'done';
  if (complete) lines.pop();
  return { lines, complete };
}
