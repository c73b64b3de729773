import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { NODE_FLAGS } from '../node-flags.js';
import type { Logger } from '../server/logger.js';

/** ioctl(2) request that clears a descriptor's close-on-exec flag. */
const FIONCLEX = 0x5450;
/** fcntl(2) commands and the flag it clears (the same numbers on every Linux architecture Node runs on). */
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/** The verbs whose process becomes a daemon, and so may execute itself again with the daemon's flags. */
export const DAEMON_VERBS: ReadonlySet<string> = new Set(['serve', 'rpc', 'mcp']);

/** What this process was given, noted before any of it changed (rememberInheritance). */
let given: { stdioFlags: ReadonlyArray<number | null>; descriptors: ReadonlyMap<number, string> } | null = null;

/**
 * Note what this process was given, before Node's streams change it: the
 * status flags of stdin, stdout and stderr (a stream over a pipe makes the
 * pipe non-blocking, and Node undoes that at exit, from what it found at its
 * start; an exec skips that exit, and a shell's pipe would stay non-blocking
 * after the daemon, the next writer into it failing with EAGAIN), and the
 * descriptors open so far (the first stream also makes libuv open a spare
 * /dev/null of its own). execWithDaemonNodeFlags passes on what is noted
 * here. Called by main() first thing, for DAEMON_VERBS.
 */
export function rememberInheritance(): void {
  given = { stdioFlags: [0, 1, 2].map(statusFlags), descriptors: openDescriptors() };
}

/** A descriptor's status flags (open(2)'s), from /proc/self/fdinfo; null if not known. */
function statusFlags(fd: number): number | null {
  try {
    const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m?.[1] === undefined ? null : parseInt(m[1], 8);
  } catch {
    return null;
  }
}

/** This process's open descriptors above 2, each with what it refers to (`pipe:[123]`, a path). */
function openDescriptors(): Map<number, string> {
  const links = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    try {
      links.set(fd, readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      /* the listing's own descriptor, closed by now */
    }
  }
  return links;
}

/**
 * The daemon's Node flags (src/node-flags.ts), for a daemon started without
 * them: `trl serve`, `trl rpc` or `trl mcp`'s own daemon from the `trl`
 * shebang, which carries none because every V8 flag on the command line costs
 * a Node process about 7 ms at start-up (V8 then rejects the code cache of its
 * start-up snapshot) and the client verbs, run once per call, do not need
 * them. A flag given already, in any spelling (`--max_semi_space_size`) or
 * value, or through NODE_OPTIONS, is not given again.
 *
 * The process executes itself again with them (execve: the same pid,
 * arguments and environment, nothing forked), before it has opened or
 * started anything. What it inherited passes as it is: stdin, stdout, stderr
 * with the status flags it was given (rememberInheritance), and every other
 * descriptor (a `--log-file /dev/fd/3`, a parent's IPC channel), which Node
 * made close-on-exec at its start; Node's own (its epoll, eventfd and
 * wake-up pipes) do not pass. Not done under a debugger (`--inspect`): the
 * exec would end its session.
 *
 * Returns only if the flags are there already (null), or why the exec was not
 * done: the daemon then runs with V8's defaults, and says so.
 */
export async function execWithDaemonNodeFlags(): Promise<string | null> {
  const flags = givenFlags();
  const missing = NODE_FLAGS.filter((flag) => !flags.has(flagName(flag)));
  if (missing.length === 0) return null;
  if ([...flags].some((name) => /^--inspect(-brk|-wait)?$/.test(name))) return 'a debugger is attached (--inspect), and an exec would end its session';
  try {
    const { libc } = await import('../tiers/shared/libc.js');
    const { koffi, lib } = libc();
    const ioctl = lib.func('int ioctl(int, unsigned long)');
    const fcntl = lib.func('int fcntl(int, int, ...)');
    // Node marks stdin, stdout and stderr close-on-exec at its start (libuv's
    // uv_disable_stdio_inheritance), and what else it inherited too: kept open through the exec.
    for (const fd of [0, 1, 2, ...inheritedDescriptors()]) if (ioctl(fd, FIONCLEX) !== 0) return `could not keep descriptor ${fd} open across the exec`;
    for (const [fd, status] of (given?.stdioFlags ?? []).entries()) {
      if (status === null || (status & O_NONBLOCK) !== 0) continue;
      const now = fcntl(fd, F_GETFL, 'int', 0) as number;
      if (now >= 0 && (now & O_NONBLOCK) !== 0) fcntl(fd, F_SETFL, 'int', now & ~O_NONBLOCK);
    }
    const argv = [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1), null];
    const envp: (string | null)[] = [];
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) envp.push(`${k}=${v}`);
    envp.push(null);
    lib.func('int execve(const char *path, const char **argv, const char **envp)')(process.execPath, argv, envp);
    return `execve of ${process.execPath} failed: ${errnoName(koffi.errno())}`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The names of the Node flags this process runs with (`--max-semi-space-size`), from its command line and NODE_OPTIONS. */
function givenFlags(): Set<string> {
  const words = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return new Set(words.filter((w) => w.startsWith('--')).map(flagName));
}

/** A flag's name, as V8 and Node read it: without its value, `_` and `-` alike. */
function flagName(flag: string): string {
  return '--' + (flag.slice(2).split('=')[0] ?? '').replace(/_/g, '-');
}

/**
 * The descriptors above 2 this process was given and still holds as they
 * were, as opposed to those Node made for itself before any of trl ran:
 * anonymous inodes (epoll, eventfd, io_uring, signalfd) and pipes whose two
 * ends it holds (libuv's wake-up pipes).
 */
function inheritedDescriptors(): number[] {
  const now = openDescriptors();
  const atStart = given?.descriptors ?? now;
  const ends = new Map<string, number>();
  for (const link of atStart.values()) ends.set(link, (ends.get(link) ?? 0) + 1);
  const nodesOwn = (link: string) => link.startsWith('anon_inode:') || (link.startsWith('pipe:') && (ends.get(link) ?? 0) > 1);
  return [...atStart].filter(([fd, link]) => now.get(fd) === link && !nodesOwn(link)).map(([fd]) => fd);
}

/** An errno as its name (ENOENT), or its number. */
function errnoName(errno: number): string {
  const name = Object.entries(constants.errno).find(([, n]) => n === errno)?.[0];
  return name ?? `errno ${errno}`;
}

/** A daemon (`trl serve`, `trl rpc`) that could not give itself the flags says so, and how to give them. */
export function warnWithoutDaemonNodeFlags(log: Logger, problem: string, verb: string): void {
  log.warn(
    { problem, flags: NODE_FLAGS },
    `running without the daemon's Node flags (V8's defaults: more memory and garbage collection under load); start it as \`node <flags> trl.js ${verb}\` to give them`,
  );
}
