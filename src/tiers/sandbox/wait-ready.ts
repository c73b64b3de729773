import type { ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';

/** How long bubblewrap may take to set a sandbox up. */
export const START_TIMEOUT_MS = 10_000;
/** The descriptor bwrap writes its JSON info (the sandbox's pid) to. */
export const INFO_FD = 3;

/** Read bwrap's info (the sandbox's pid) and the holder's "ready"; reject with bwrap's own complaint if it dies. */
export function waitReady(child: ChildProcess): Promise<number> {
  const stdout = piped(child.stdout, 'stdout');
  const stderr = piped(child.stderr, 'stderr');
  const infoPipe = piped(child.stdio[INFO_FD], `descriptor ${INFO_FD}`);
  return new Promise((resolve, reject) => {
    let info = '';
    let out = '';
    let err = '';
    let nsPid: number | null = null;
    let ready = false;
    const timer = setTimeout(() => fail(`bubblewrap did not start within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    const done = () => {
      if (nsPid !== null && ready) {
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        stdout.removeAllListeners('data');
        resolve(nsPid);
      }
    };
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(why));
    };
    const onExit = () => {
      const msg = err.trim().split('\n').pop() ?? '';
      fail(
        `bubblewrap exited at start${msg ? `: ${msg}` : ''}${/namespace|permission/i.test(msg) ? ' (unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1, or run the daemon as root)' : ''}`,
      );
    };
    child.once('error', (e) => fail(`cannot run bubblewrap: ${e.message}`));
    child.once('exit', onExit);
    stderr.on('data', (d: Buffer) => {
      if (err.length < 4096) err += d.toString();
    });
    infoPipe.on('data', (d: Buffer) => {
      info += d.toString();
      const m = /"child-pid"\s*:\s*(\d+)/.exec(info);
      if (m && nsPid === null) {
        nsPid = Number(m[1]);
        done();
      }
    });
    stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) {
        ready = true;
        done();
      }
    });
  });
}

/** One of bubblewrap's descriptors that the spawn must have piped (Node makes a stream for each 'pipe'). */
function piped(stream: unknown, name: string): Readable {
  if (stream instanceof Readable) return stream;
  throw new Error(`bubblewrap's ${name} is not a pipe: spawn it with stdio 'pipe' there`);
}
