import { errnoName, libc as loadLibc, linuxOnce } from './libc.js';
import { constants } from 'node:os';
import type { ExitStatus } from '../tier.js';
import { SpawnError } from './spawn-error.js';
import { errorMessage } from './thrown.js';

/**
 * Starting a child without forking the daemon. Node's spawn forks (libuv's
 * fork(2)): the kernel copies the page tables of the whole daemon, every page
 * it then writes (the garbage collector writes many) faults back in, and the
 * cost grows with the heap: milliseconds of CPU per command on a VM, more
 * than the command. glibc's posix_spawn starts the child in the daemon's
 * memory (CLONE_VM|CLONE_VFORK) until it execs: a constant, small cost. It is
 * called through koffi (already loaded to harden the process), on one of
 * koffi's worker threads: posix_spawn returns only once the child has execed
 * (or failed to), and on a busy machine the child may wait milliseconds for a
 * CPU; the event loop serves other requests meanwhile. Where koffi,
 * glibc's functions or a pipe cannot be had, `nativeSpawner()` is null and
 * callers use Node's spawn.
 *
 * The child is what Node's spawn with `detached: true` makes: a new session
 * (setsid), every signal at its default disposition (the daemon ignores
 * SIGPIPE; an ignored signal would stay ignored across exec), no signal
 * blocked, the given descriptors on 0..n and nothing else of the daemon's
 * (every descriptor Node opens is close-on-exec). Its exit is collected with
 * waitpid on SIGCHLD: libuv reaps only its own children, by pid.
 */

/** What goes on one of the child's descriptors: a descriptor of the daemon's, or /dev/null (0-2) / nothing (3+). */
export type ChildFd = number | 'ignore';

/** A started child: its pid and exit. */
export interface Started {
  pid: number;
  exited: Promise<ExitStatus>;
  /** The sandbox's entry forker only: the pid is the command itself, not an entry that waits for it (entry-forker.ts). */
  direct?: boolean;
}

export interface NativeSpawner {
  /** An anonymous pipe, both ends close-on-exec. */
  pipe(): { read: number; write: number };
  /**
   * Start `file` with `argv` (argv[0] included); rejects with a SpawnError with the errno's code.
   * The descriptors in `stdio` must stay open until it settles.
   */
  spawn(file: string, argv: readonly string[], opts: { cwd: string; env: Record<string, string>; stdio: readonly ChildFd[] }): Promise<Started>;
  /** A FIFO at `path` (mode 0600), made without a process. */
  mkfifo(path: string): void;
}

const O_CLOEXEC = 0o2000000;
const O_RDONLY = 0;
const O_RDWR = 2;
/** glibc's spawn flags (spawn.h). */
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const WNOHANG = 1;
/** Generous sizes of glibc's opaque types (80 and 336 bytes on LP64, sigset_t 128). */
const FILE_ACTIONS_BYTES = 256;
const ATTR_BYTES = 512;
const SIGSET_BYTES = 128;
/** A safety net only: every exit is normally seen at its SIGCHLD. */
const POLL_MS = 1000;

const signalNames = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/** The spawner of this process, or null where it cannot work (not Linux with glibc, no koffi). */
export const nativeSpawner: () => NativeSpawner | null = linuxOnce(load);

function load(): NativeSpawner {
  const { koffi, lib: libc } = loadLibc();
  // Every function used here returns an int.
  const fn = (signature: string) => libc.func(signature) as (...args: unknown[]) => number;
  const f = {
    pipe2: fn('int pipe2(void *fds, int flags)'),
    mkfifo: fn('int mkfifo(const char *path, unsigned int mode)'),
    errno: () => koffi.errno(),
    faInit: fn('int posix_spawn_file_actions_init(void *fa)'),
    faDestroy: fn('int posix_spawn_file_actions_destroy(void *fa)'),
    faDup2: fn('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
    faOpen: fn('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, unsigned int mode)'),
    faChdir: fn('int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)'),
    attrInit: fn('int posix_spawnattr_init(void *attr)'),
    attrFlags: fn('int posix_spawnattr_setflags(void *attr, short flags)'),
    attrSigdef: fn('int posix_spawnattr_setsigdefault(void *attr, void *set)'),
    attrSigmask: fn('int posix_spawnattr_setsigmask(void *attr, void *set)'),
    sigfillset: fn('int sigfillset(void *set)'),
    sigemptyset: fn('int sigemptyset(void *set)'),
    waitpid: fn('int waitpid(int pid, _Out_ int *status, int options)'),
  };
  const posixSpawn = libc.func('int posix_spawn(_Out_ int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)');
  // One attribute set for every child (posix_spawn only reads it: calls on several threads share it): new session, default dispositions, nothing blocked.
  const attr = Buffer.alloc(ATTR_BYTES);
  const all = Buffer.alloc(SIGSET_BYTES);
  const none = Buffer.alloc(SIGSET_BYTES);
  if (f.attrInit(attr) !== 0 || f.sigfillset(all) !== 0 || f.sigemptyset(none) !== 0) throw new Error('posix_spawnattr_init failed');
  if (f.attrSigdef(attr, all) !== 0 || f.attrSigmask(attr, none) !== 0 || f.attrFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID) !== 0) {
    throw new Error('posix_spawnattr_set* failed');
  }
  const reaper = new Reaper((pid, status) => f.waitpid(pid, status, WNOHANG));
  const fdsBuf = Buffer.alloc(8);
  return {
    pipe() {
      if (f.pipe2(fdsBuf, O_CLOEXEC) !== 0) {
        const code = errnoName(f.errno()) ?? 'EIO';
        throw new SpawnError(`cannot make a pipe (${code}); the daemon may be out of file descriptors`, code);
      }
      return { read: fdsBuf.readInt32LE(0), write: fdsBuf.readInt32LE(4) };
    },
    mkfifo(path) {
      if (f.mkfifo(path, 0o600) !== 0) {
        const code = errnoName(f.errno()) ?? 'EIO';
        throw Object.assign(new Error(`mkfifo ${path}: ${code}`), { code });
      }
    },
    spawn(file, argv, opts) {
      const fa = Buffer.alloc(FILE_ACTIONS_BYTES);
      if (f.faInit(fa) !== 0) return Promise.reject(new SpawnError('posix_spawn_file_actions_init failed', 'ENOMEM'));
      opts.stdio.forEach((fd, target) => {
        if (fd === 'ignore') {
          if (target <= 2) f.faOpen(fa, target, '/dev/null', target === 0 ? O_RDONLY : O_RDWR, 0);
        } else f.faDup2(fa, fd, target);
      });
      f.faChdir(fa, opts.cwd);
      const envp: (string | null)[] = [];
      for (const k in opts.env) envp.push(`${k}=${opts.env[k]}`);
      envp.push(null);
      const args = [...argv, null];
      const pid = [0];
      return new Promise((resolve, reject) => {
        const done = (callErr: unknown, err: number): void => {
          f.faDestroy(fa);
          if (callErr) return reject(new SpawnError(`spawn ${file}: ${errorMessage(callErr)}`, 'EIO'));
          if (err !== 0) {
            const code = errnoName(err) ?? 'EIO';
            return reject(new SpawnError(`spawn ${file} ${code}`, code));
          }
          const child = pid[0] ?? 0;
          resolve({ pid: child, exited: reaper.watch(child) });
        };
        try {
          posixSpawn.async(pid, file, fa, attr, args, envp, done);
        } catch {
          // koffi's queue of calls is full (hundreds at once): this one is made on this thread.
          let err: number;
          try {
            err = posixSpawn(pid, file, fa, attr, args, envp) as number;
          } catch (e) {
            return done(e, 0);
          }
          done(null, err);
        }
      });
    },
  };
}

/** Collects the exits of the children this module started, at each SIGCHLD. */
class Reaper {
  private readonly waiting = new Map<number, (s: ExitStatus) => void>();
  private listening = false;
  /** Keeps the loop alive while a child runs (Node's signal listeners do not) and polls, just in case. */
  private timer: NodeJS.Timeout | null = null;
  private readonly status = [0];

  constructor(private readonly waitpid: (pid: number, status: number[]) => number) {}

  watch(pid: number): Promise<ExitStatus> {
    if (!this.listening) {
      this.listening = true;
      process.on('SIGCHLD', () => this.collect());
    }
    const p = new Promise<ExitStatus>((resolve) => this.waiting.set(pid, resolve));
    this.timer ??= setInterval(() => this.collect(), POLL_MS);
    // Exited before the listener could see it: its SIGCHLD has already been delivered.
    this.collect();
    return p;
  }

  private collect(): void {
    for (const [pid, resolve] of this.waiting) {
      const r = this.waitpid(pid, this.status);
      if (r !== pid && r !== -1) continue;
      this.waiting.delete(pid);
      resolve(r === -1 ? { code: null, signal: null } : decodeWaitStatus(this.status[0]!));
    }
    if (this.waiting.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

/** A wait status as Node reports an exit: a code, or the signal that killed it. */
export function decodeWaitStatus(status: number): ExitStatus {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: signalNames.get(sig) ?? null };
}
