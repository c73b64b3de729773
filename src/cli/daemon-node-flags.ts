import { NODE_FLAGS } from '../node-flags.js';
import type { Logger } from '../server/logger.js';
import { givenStdioFlags, inheritedDescriptors } from './given-descriptors.js';

/** ioctl(2) request that clears a descriptor's close-on-exec flag. */
const FIONCLEX = 0x5450;
/** fcntl(2) commands and the flag it clears (the same numbers on every Linux architecture Node runs on). */
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

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
 * with the status flags it was given (given-descriptors.ts), and every other
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
    const { errnoName, libc } = await import('../tiers/shared/libc.js');
    const { koffi, lib } = libc();
    const ioctl = lib.func('int ioctl(int, unsigned long)');
    const fcntl = lib.func('int fcntl(int, int, ...)');
    // Node marks stdin, stdout and stderr close-on-exec at its start (libuv's
    // uv_disable_stdio_inheritance), and what else it inherited too: kept open through the exec.
    for (const fd of [0, 1, 2, ...inheritedDescriptors()]) if (ioctl(fd, FIONCLEX) !== 0) return `could not keep descriptor ${fd} open across the exec`;
    for (const [fd, status] of givenStdioFlags().entries()) {
      if (status === null || (status & O_NONBLOCK) !== 0) continue;
      const now = fcntl(fd, F_GETFL) as number;
      if (now >= 0 && (now & O_NONBLOCK) !== 0) fcntl(fd, F_SETFL, 'int', now & ~O_NONBLOCK);
    }
    const argv = [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1), null];
    const envp: (string | null)[] = [];
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) envp.push(`${k}=${v}`);
    envp.push(null);
    lib.func('int execve(const char *path, const char **argv, const char **envp)')(process.execPath, argv, envp);
    const errno = koffi.errno();
    return `execve of ${process.execPath} failed: ${errnoName(errno) ?? `errno ${errno}`}`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The names of the Node flags this process runs with (`--max-semi-space-size`), from its command line and NODE_OPTIONS. */
function givenFlags(): Set<string> {
  const words = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return new Set(words.filter((w) => w.startsWith('--')).map(flagName));
}

/**
 * A flag's name, as V8 and Node read it: without its value, `_` and `-`
 * alike, and a boolean's `--no-` form the same flag as its `--` form (a
 * `--sparkplug` given is the user's choice, kept over `--no-sparkplug`).
 */
function flagName(flag: string): string {
  return '--' + (flag.slice(2).split('=')[0] ?? '').replace(/_/g, '-').replace(/^no-/, '');
}

/** A daemon (`trl serve`, `trl rpc`) that could not give itself the flags says so, and how to give them. */
export function warnWithoutDaemonNodeFlags(log: Logger, problem: string, verb: string): void {
  log.warn(
    { problem, flags: NODE_FLAGS },
    `running without the daemon's Node flags (V8's defaults: more memory and garbage collection under load); start it as \`node <flags> trl.js ${verb}\` to give them`,
  );
}
