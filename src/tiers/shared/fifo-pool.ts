import { execFile, execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeSpawner } from './native-spawn.js';
import { ownedByUs } from './owned-by-us.js';
import { errnoCode } from './thrown.js';

const BATCH = 64;
const LOW_WATER = 24;

/** FIFO directories are named after the daemon instance, so a successor can remove a crashed one's. */
export function fifoDirPrefix(instanceId: string): string {
  return `trl-fifo-${instanceId}-`;
}

/** Remove the FIFO directories a dead instance left in the temp directory. */
export function removeFifoDirs(instanceId: string): void {
  const prefix = fifoDirPrefix(instanceId);
  for (const name of readdirSync(tmpdir())) {
    // Ours alone (0700 directories we made): another user's, planted under the name, could be swapped for a link
    // while a recursive removal walks it.
    if (!name.startsWith(prefix) || !ownedByUs(join(tmpdir(), name), 'dir')) continue;
    try {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    } catch {
      /* another user's (a root daemon's, seen by an ordinary one): theirs to remove */
    }
  }
}

export interface PipeFds {
  read: number;
  write: number;
}

/**
 * Real pipes for a child's stdio. Node gives children socketpairs, which
 * cannot be reopened by path: `echo x > /dev/stderr`, `tee /dev/stdout` and
 * `cat /dev/stdin` fail with ENXIO. A FIFO opened at both ends and unlinked at
 * once is an ordinary anonymous pipe. FIFOs are made ahead in batches (by
 * mkfifo(2) through native-spawn.ts, else one `mkfifo` process) in a private
 * 0700 directory, so a command pays only for two opens and an unlink per
 * stream. They never hold data on disk. Where the daemon spawns without
 * forking (native-spawn.ts), its stdio pipes come from pipe2(2) instead and
 * only forChild's named pipes are made here.
 */
export class FifoPool {
  private dir: string;
  private ready: string[] = [];
  private seq = 0;
  private refilling = false;
  private closed = false;

  private readonly prefix: string;

  constructor(instanceId: string) {
    this.prefix = fifoDirPrefix(instanceId);
    this.dir = mkdtempSync(join(tmpdir(), this.prefix));
    this.refillSync();
  }

  /** A pipe whose read end is non-blocking (for the daemon) and write end blocking (for the child). */
  forOutput(): PipeFds {
    return this.retrying(() => this.openOutput());
  }

  /** A pipe whose read end is blocking (for the child's stdin) and write end kept by the daemon. */
  forInput(): PipeFds {
    return this.retrying(() => this.openInput());
  }

  /**
   * A pipe a child opens by path (a shell's `exec 4<path`), for data it must
   * get without an inherited descriptor (a terminal's child gets none). The
   * daemon holds a read end too, so what it writes stays in the pipe until the
   * child has opened it, whenever that is; `release` closes both and removes
   * the path (after the child has exited).
   */
  forChild(): { path: string; write: number; release(): void } {
    return this.retrying(() => {
      const path = this.take();
      const hold = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      const write = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      let released = false;
      return {
        path,
        write,
        release: () => {
          if (released) return;
          released = true;
          closeSync(hold);
          try {
            unlinkSync(path);
          } catch {
            /* the directory went with a shutdown */
          }
        },
      };
    });
  }

  /** A temp cleaner may remove the directory under a long-lived daemon: make a new one once and retry. */
  private retrying<T>(open: () => T): T {
    try {
      return open();
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      this.dir = mkdtempSync(join(tmpdir(), this.prefix));
      this.ready = [];
      this.refillSync();
      return open();
    }
  }

  private openOutput(): PipeFds {
    const path = this.take();
    const read = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const write = openSync(path, constants.O_WRONLY);
    unlinkSync(path);
    return { read, write };
  }

  private openInput(): PipeFds {
    const path = this.take();
    const opener = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const write = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    const read = openSync(path, constants.O_RDONLY);
    closeSync(opener);
    unlinkSync(path);
    return { read, write };
  }

  close(): void {
    this.closed = true;
    // A refill may still be creating FIFOs in there: removal is retried, and never fails the shutdown.
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    } catch {
      /* a leftover directory of FIFOs holds no data; the next daemon's reap removes it */
    }
  }

  private take(): string {
    let path = this.ready.pop();
    while (path === undefined) {
      this.refillSync(); // makes a whole batch, or throws
      path = this.ready.pop();
    }
    if (this.ready.length < LOW_WATER) this.refillAsync();
    return path;
  }

  private names(): string[] {
    const names: string[] = [];
    for (let i = 0; i < BATCH; i++) names.push(join(this.dir, `p${this.seq++}`));
    return names;
  }

  private refillSync(): void {
    const names = this.names();
    const native = nativeSpawner();
    if (native) for (const n of names) native.mkfifo(n);
    else execFileSync('mkfifo', ['-m', '600', ...names], { stdio: 'ignore' });
    this.ready.push(...names);
  }

  private refillAsync(): void {
    if (this.refilling || this.closed) return;
    // mkfifo(2) is a syscall away: no process to wait for.
    if (nativeSpawner()) return this.refillSync();
    this.refilling = true;
    const names = this.names();
    const dir = this.dir;
    execFile('mkfifo', ['-m', '600', ...names], (err) => {
      this.refilling = false;
      if (!err && !this.closed && dir === this.dir) this.ready.unshift(...names);
    });
  }
}
