import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

/** How long bubblewrap may take to set a sandbox up. */
export const START_TIMEOUT_MS = 10_000;
/** The descriptor bwrap writes its JSON info (the sandbox's pid) to. */
export const INFO_FD = 3;

/** Read bwrap's info (the sandbox's pid) and the holder's "ready"; reject with bwrap's own complaint if it dies. */
export function waitReady(child: ChildProcess): Promise<number> {
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
        (child.stdout as Readable).removeAllListeners('data');
        resolve(nsPid);
      }
    };
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(why));
    };
    const onExit = () => {
      const msg = err.trim().split('\n').pop() ?? '';
      fail(`bubblewrap exited at start${msg ? `: ${msg}` : ''}${/namespace|permission/i.test(msg) ? ' (unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1, or run the daemon as root)' : ''}`);
    };
    child.once('error', (e) => fail(`cannot run bubblewrap: ${e.message}`));
    child.once('exit', onExit);
    child.stderr!.on('data', (d: Buffer) => {
      if (err.length < 4096) err += d.toString();
    });
    (child.stdio[INFO_FD] as Readable).on('data', (d: Buffer) => {
      info += d.toString();
      const m = /"child-pid"\s*:\s*(\d+)/.exec(info);
      if (m && nsPid === null) {
        nsPid = Number(m[1]);
        done();
      }
    });
    (child.stdout as Readable).on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) {
        ready = true;
        done();
      }
    });
  });
}

