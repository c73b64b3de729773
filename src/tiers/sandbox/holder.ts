import { ARCH_INFO, type SeccompArch } from '../shared/seccomp/arch.js';

const PR_SET_DUMPABLE = 4;
const WNOHANG = 1;

/**
 * The sandbox's pid 1 (bubblewrap's `--as-pid-1`): it keeps the namespaces
 * alive, says "ready" once bubblewrap has built the mounts, and reaps what is
 * orphaned in the sandbox. It runs without the commands' seccomp filter, as
 * their own user (under an ordinary user's daemon), so it makes itself
 * non-dumpable first: a command, which has no capability, can then neither
 * ptrace it nor open its /proc/PID/mem, and so cannot have it make the system
 * calls the filter refuses. (bubblewrap's own init, which this replaces, and
 * the `sleep` it ran were both dumpable: a review made them create user
 * namespaces and Unix sockets for a sandboxed command.) The daemon, as the
 * owner of the sandbox's user namespace (or root), still enters its
 * namespaces. Perl: the sandbox tier needs it already (sandbox-entry.ts).
 */
export function holderArgv(perl: string, arch: SeccompArch): string[] {
  const prctl = ARCH_INFO[arch].syscalls.prctl;
  if (prctl === undefined) throw new Error(`no prctl system call number for ${arch}`);
  const script = [
    `syscall(${prctl}, ${PR_SET_DUMPABLE}, 0, 0, 0, 0) == 0 or die "trl sandbox holder: prctl(PR_SET_DUMPABLE): $!\\n";`,
    // A handler, so that a child's end interrupts the sleep (pid 1 ignores signals it does not handle).
    '$SIG{CHLD} = sub {};',
    '$| = 1; print "ready\\n";',
    `for (;;) { 1 while waitpid(-1, ${WNOHANG}) > 0; sleep 3600 }`,
  ].join(' ');
  return [perl, '-e', script];
}
