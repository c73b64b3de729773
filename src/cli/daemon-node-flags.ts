import { NODE_FLAGS } from '../node-flags.js';
import type { Logger } from '../server/logger.js';

/** ioctl(2) request that clears a descriptor's close-on-exec flag. */
const FIONCLEX = 0x5450;

/**
 * The daemon's Node flags (src/node-flags.ts), for a daemon started without
 * them: `trl serve` or `trl rpc` from the `trl` shebang, which carries none
 * because every V8 flag on the command line costs a Node process about
 * 7 ms at start-up (V8 then rejects the code cache of its start-up snapshot)
 * and the client verbs, run once per call, do not need them. The process
 * executes itself again with them (execve: the same pid, stdin, stdout,
 * stderr and environment, nothing forked), before it has opened or started
 * anything. Other descriptors it inherited do not pass (Node made them
 * close-on-exec at its start); give the flags on the command line to keep
 * them. Returns only if the flags are there already, or if the
 * exec cannot be done (no glibc through koffi): the daemon then runs with
 * V8's defaults, and says so.
 */
export async function execWithDaemonNodeFlags(): Promise<string | null> {
  const missing = NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  if (missing.length === 0) return null;
  try {
    const { libc } = await import('../tiers/shared/libc.js');
    const { lib } = libc();
    const execve = lib.func('int execve(const char *path, const char **argv, const char **envp)');
    // Node marks stdin, stdout and stderr close-on-exec at its start (libuv's uv_disable_stdio_inheritance):
    // kept open through the exec (the new Node marks them again), or the daemon would lose its output.
    const ioctl = lib.func('int ioctl(int, unsigned long)');
    for (const fd of [0, 1, 2]) if (ioctl(fd, FIONCLEX) !== 0) return `could not keep descriptor ${fd} open across the exec`;
    const argv = [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1), null];
    const envp: (string | null)[] = [];
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) envp.push(`${k}=${v}`);
    envp.push(null);
    execve(process.execPath, argv, envp);
    return `execve of ${process.execPath} failed`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** A daemon (`trl serve`, `trl rpc`) that could not give itself the flags says so, and how to give them. */
export function warnWithoutDaemonNodeFlags(log: Logger, problem: string, verb: string): void {
  log.warn(
    { problem, flags: NODE_FLAGS },
    `running without the daemon's Node flags (V8's defaults: more memory and garbage collection under load); start it as \`node <flags> trl.js ${verb}\` to give them`,
  );
}
