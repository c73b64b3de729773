import type Docker from 'dockerode';
import { PassThrough, type Duplex } from 'node:stream';
import { splitOutput } from './demux.js';
import { errorMessage } from '../shared/thrown.js';

/**
 * One short exec whose answer is lines on its stdout, read through the
 * exec's attached stream as they are written: where no FIFO is shared with
 * the engine (docs/docker-tier.md#remote-engines). The daemon stops reading
 * once `enough` says so, without waiting for the engine to close the exec's
 * output (which it does only in turn with the container's other exits).
 * Resolves to the lines and whether they were enough before the stream ended
 * or the time ran out; throws only when no exec could start.
 */
export async function execLines(
  container: Docker.Container,
  opts: { argv: string[]; env: string[]; user: string; timeoutMs: number },
  enough: (lines: string[]) => boolean,
): Promise<{ lines: string[]; complete: boolean }> {
  let sock: Duplex;
  try {
    const exec = await container.exec({
      Cmd: opts.argv,
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
    throw new Error(`the exec could not start: ${errorMessage(err)}`, { cause: err });
  }
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  sock.on('error', () => undefined);
  splitOutput(sock, stdout, stderr, { tty: false, marker: null });
  stderr.resume();
  const lines: string[] = [];
  let pending = '';
  let complete = false;
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
        if (!complete && enough(lines)) {
          complete = true;
          finish();
        }
      });
      stdout.once('end', finish);
    });
  } finally {
    sock.destroy();
  }
  return { lines, complete };
}

/** What `path` is inside the container, for `user` (a short exec: only for paths a client names). */
export async function pathKind(container: Docker.Container, user: string, env: string[], path: string): Promise<'dir' | 'other' | 'missing'> {
  const script = 'if [ -d "$1" ]; then echo dir; elif [ -e "$1" ] || [ -L "$1" ]; then echo other; else echo missing; fi';
  const { lines } = await execLines(container, { argv: ['/bin/sh', '-c', script, 'trl-path', path], env, user, timeoutMs: 30_000 }, (l) => l.length > 0);
  const kind = lines[0];
  if (kind === 'dir' || kind === 'other' || kind === 'missing') return kind;
  throw new Error(`could not look at ${path} in the container`);
}
