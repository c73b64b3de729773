/**
 * The seccomp policy of the isolated tiers, as data: the one source of truth
 * that both the sandbox tier's BPF filter (bpf.ts) and the docker tier's
 * profile (docker-profile.ts) are generated from.
 *
 * Shape: every system call in the arch's table is allowed unless a rule here
 * refuses it; numbers the table does not hold (gaps, x32, anything newer than
 * the table) fail with ENOSYS, as on a kernel that lacks them. A rule refuses
 * unconditionally, or only when its argument test holds.
 *
 * Model: what Docker's default profile refuses to a container without
 * capabilities, plus the keyring, io_uring and Unix-socket rules trl's tiers
 * need. Most refused calls would fail anyway without capabilities; refusing
 * them here keeps the kernel code behind them out of reach (the usual route of
 * container escapes), including from a user namespace where the caller would
 * hold capabilities.
 */

export const EPERM = 1;
export const ENOSYS = 38;

export const AF_UNIX = 1;
export const AF_ALG = 38;
export const AF_VSOCK = 40;

/** Every namespace flag clone(2) takes (CLONE_NEWTIME shares its bit with the exit signal there, so only unshare/clone3 carry it). */
export const CLONE_NEW_FLAGS =
  0x00020000 | // CLONE_NEWNS
  0x02000000 | // CLONE_NEWCGROUP
  0x04000000 | // CLONE_NEWUTS
  0x08000000 | // CLONE_NEWIPC
  0x10000000 | // CLONE_NEWUSER
  0x20000000 | // CLONE_NEWPID
  0x40000000; // CLONE_NEWNET

/** personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26 with either, and the query 0xffffffff. */
export const HARMLESS_PERSONALITIES: readonly number[] = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/**
 * A test on one argument's low 32 bits: every argument tested here is an int
 * or unsigned int (clone's flags are truncated to 32 bits by the kernel), so
 * the upper half of the register is ignored, by the kernel and by the filter
 * alike; a caller cannot slip past a test by setting it.
 */
export type ArgTest =
  /** Refuse when the value is one of `values`. */
  | { arg: number; op: 'in'; values: readonly number[] }
  /** Refuse unless the value is one of `values`. */
  | { arg: number; op: 'notIn'; values: readonly number[] }
  /** Refuse when any bit of `mask` is set. */
  | { arg: number; op: 'anyBit'; mask: number };

export interface SeccompRule {
  /** System call names; a name the arch does not have is skipped there. */
  names: readonly string[];
  /** The errno the refused call fails with. */
  errno: number;
  /** Refuse only when this holds (else always). At most one rule per system call. */
  when?: ArgTest;
}

export interface PolicyOptions {
  /** Refuse socket(AF_UNIX): the `network: false` mode, where a pathname socket under a read-only bind would still connect. */
  blockUnixSockets: boolean;
}

export function seccompPolicy(opts: PolicyOptions): SeccompRule[] {
  return [
    // Kernel keyrings are not namespaced: a command could read or poison the host's keys.
    { names: ['add_key', 'keyctl', 'request_key'], errno: EPERM },

    // io_uring performs socket/open/connect operations inside the kernel, behind any socket()
    // rule, and has been a steady source of kernel exploits (Docker refuses it too).
    { names: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'], errno: EPERM },

    // Kernel programming and introspection: BPF programs, perf counters (side channels, kernel
    // addresses), userfaultfd (used to win kernel races), the kernel log.
    { names: ['bpf', 'perf_event_open', 'userfaultfd', 'syslog', 'lookup_dcookie'], errno: EPERM },

    // Changing the running kernel, or the machine: kexec, modules, process accounting, swap,
    // reboot, raw port I/O, the terminal hangup, the host and domain names.
    {
      names: [
        'kexec_load',
        'kexec_file_load',
        'init_module',
        'finit_module',
        'delete_module',
        'create_module',
        'acct',
        'swapon',
        'swapoff',
        'reboot',
        'iopl',
        'ioperm',
        'vhangup',
        'sethostname',
        'setdomainname',
      ],
      errno: EPERM,
    },

    // Setting the clocks (reading them through adjtimex/clock_adjtime stays allowed, as in Docker;
    // setting through those needs CAP_SYS_TIME, which no command has).
    { names: ['settimeofday', 'clock_settime'], errno: EPERM },

    // The filesystem layout is the sandbox's: no mounting, remounting, pivoting or chroot, by the
    // old or the new mount API, and no disk quota changes.
    {
      names: ['mount', 'umount2', 'pivot_root', 'chroot', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'open_tree_attr', 'mount_setattr', 'quotactl', 'quotactl_fd'],
      errno: EPERM,
    },

    // No new namespaces and no joining others: a user namespace would hand the command every
    // capability inside it, and with them the whole kernel surface the rules above close.
    { names: ['unshare', 'setns'], errno: EPERM },
    { names: ['clone'], errno: EPERM, when: { arg: 0, op: 'anyBit', mask: CLONE_NEW_FLAGS } },
    // clone3 passes its flags in memory, where a filter cannot read them: ENOSYS makes the C
    // libraries fall back to clone, whose flags are checked above (what Docker does).
    { names: ['clone3'], errno: ENOSYS },

    // File handles open any file of a filesystem by number, past every directory permission and
    // bind mount (the "shocker" escape); fanotify watches whole filesystems.
    { names: ['open_by_handle_at', 'name_to_handle_at', 'fanotify_init'], errno: EPERM },

    // Other processes' memory placement and descriptors (Docker grants these only with
    // CAP_SYS_NICE or CAP_SYS_PTRACE); ptrace and process_vm_* stay, under the kernel's own checks.
    { names: ['migrate_pages', 'move_pages', 'kcmp', 'pidfd_getfd', 'process_madvise'], errno: EPERM },

    // A process changing its own security-module context belongs to the sandbox's setup, not to it.
    { names: ['lsm_set_self_attr'], errno: EPERM },

    // Obsolete interfaces nothing current calls: their code is rarely exercised, so rarely audited.
    {
      names: ['uselib', 'nfsservctl', '_sysctl', 'sysfs', 'ustat', 'get_kernel_syms', 'query_module', 'afs_syscall', 'tuxcall', 'security', 'getpmsg', 'putpmsg', 'vserver'],
      errno: EPERM,
    },

    // Execution domains other than Linux's (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, foreign ABIs) weaken
    // the process and reach little-tested kernel code; only the values Docker allows pass.
    { names: ['personality'], errno: EPERM, when: { arg: 0, op: 'notIn', values: HARMLESS_PERSONALITIES } },

    // Sockets: AF_VSOCK is not bounded by network namespaces (it reaches the hypervisor and other
    // VMs), AF_ALG exposes the kernel's crypto code; neither is needed by ordinary programs. In the
    // no-network mode AF_UNIX goes too: the net namespace already cuts TCP and abstract Unix
    // sockets, but a pathname socket visible through a bind mount would still connect. socketpair
    // stays: its two ends reach nothing but each other.
    {
      names: ['socket'],
      errno: EPERM,
      when: { arg: 0, op: 'in', values: opts.blockUnixSockets ? [AF_UNIX, AF_ALG, AF_VSOCK] : [AF_ALG, AF_VSOCK] },
    },
  ];
}

/**
 * What the policy does with one system call: allowed, refused, or decided by
 * an argument test. Throws when a call has two rules (the policy would be
 * ambiguous).
 */
export function ruleIndex(rules: readonly SeccompRule[]): Map<string, SeccompRule> {
  const byName = new Map<string, SeccompRule>();
  for (const rule of rules) {
    for (const name of rule.names) {
      if (byName.has(name)) throw new Error(`seccomp policy: ${name} has two rules; merge them into one`);
      byName.set(name, rule);
    }
  }
  return byName;
}
