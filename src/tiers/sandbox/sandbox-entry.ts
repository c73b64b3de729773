/**
 * How a command enters its sandbox: one Perl process, spawned by the daemon
 * with a clean environment or forked by the entry forker (entry-forker.ts,
 * which compiled this program once), does what `sh` (cgroups, rlimits, the
 * environment pipe) → `nsenter` (namespaces, root, a fork for the PID
 * namespace) → `setpriv` (capabilities, user) → the seccomp launcher did,
 * without their four execs. On the host side it joins the session's cgroups,
 * reads the command's environment, opens the sandbox's namespaces and root,
 * sets the rlimits (and, under a terminal, gives the terminal up: the command
 * takes it inside). It then enters the namespaces and the sandbox's root, and
 * forks: a PID namespace applies to children only (a process the forker
 * started in the namespace already, $::D, does not fork: it is the child,
 * and becomes the command). The child drops every
 * capability (bounding set, inheritable, ambient) and, under a root daemon,
 * becomes the session's user with no groups; then the seccomp launcher's part
 * (launcher.ts: no_new_privs, the filter, the working directory, the
 * command's environment, exec). The parent waits and exits as the command did
 * (a signal is raised again), as nsenter does; the daemon never signals it.
 *
 * Nothing of the command's environment reaches the process before the
 * filter is in place: it is read from a pipe, and applied just before exec.
 */
import { ARCH_INFO, type SeccompArch } from '../shared/seccomp/arch.js';
import { confineScript, ENV_READ, LAUNCHER_FAILED } from '../shared/seccomp/launcher.js';

/** A namespace of the sandbox's holder the command joins, by its /proc/PID/ns name. */
export type NsName = 'user' | 'ipc' | 'uts' | 'net' | 'pid' | 'mnt';

/** Resources the host tier sets as `ulimit` (limits.ts): RLIMIT_* numbers (the same on x86_64 and aarch64). */
export const RLIMIT = { cpu: 0, nproc: 6, nofile: 7, as: 9 } as const;

export interface EntryOptions {
  perl: string;
  arch: SeccompArch;
  /** Host pid of the sandbox's first process. */
  nsPid: number;
  /** In the order they are joined: the user namespace first (it owns the others). */
  namespaces: readonly NsName[];
  /** uid and gid to become (no supplementary groups); null: stay who the daemon is. */
  runAs: { uid: number; gid: number } | null;
  /** cgroup.procs files to join, in order. */
  cgroupProcs: readonly string[];
  /** rlimits to set (soft and hard, as `ulimit` does), with how to name each in an error. */
  rlimits: ReadonlyArray<{ resource: number; value: number; name: string }>;
  /** Where the environment comes from: an inherited descriptor, or a named pipe opened read-write. */
  env: { fd: number } | { path: string };
  /** The seccomp filter. */
  filter: Buffer;
  /** Working directory of the command, inside the sandbox. */
  cwd: string;
  /** Under a terminal: give it up here, take it in the command (launcher.ts, takeTerminal). */
  takeTerminal: boolean;
  argv: readonly string[];
}

const PR_SET_DUMPABLE = 4;
const PR_SET_KEEPCAPS = 8;
const PR_CAPBSET_DROP = 24;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const TIOCNOTTY = 0x5422;
const WUNTRACED = 2;

const scripts = new Map<string, string>();

/** The argv that runs `argv` in the sandbox: `[perl, -t, -C0, -e, SCRIPT, --, …settings, …argv]`. */
export function sandboxEntry(o: EntryOptions): string[] {
  if (o.argv.length === 0) throw new Error('a sandbox command needs a program');
  const text = entryScript(o.arch, 'fd' in o.env ? o.env.fd : null, o.takeTerminal);
  const rl = o.rlimits.map((r) => `${r.resource}=${r.value}=${r.name}`).join(',');
  const runAs = o.runAs ? `${o.runAs.uid}:${o.runAs.gid}` : '';
  return [
    o.perl,
    '-t',
    '-C0',
    '-e',
    text,
    '--',
    'path' in o.env ? o.env.path : '',
    String(o.nsPid),
    o.namespaces.join(','),
    runAs,
    rl,
    String(o.cgroupProcs.length),
    ...o.cgroupProcs,
    o.filter.toString('hex'),
    o.cwd,
    ...o.argv,
  ];
}

/**
 * The entry's Perl program (built once per variant): its settings and the
 * command are its @ARGV. The entry forker (entry-forker.ts) compiles the
 * pipe variant once and runs it in a fork for each command.
 */
export function entryScript(arch: SeccompArch, envFd: number | null, takeTerminal: boolean): string {
  const key = `${arch}:${envFd}:${takeTerminal}`;
  let text = scripts.get(key);
  if (!text) scripts.set(key, (text = script(arch, envFd, takeTerminal)));
  return text;
}

function script(arch: SeccompArch, envFd: number | null, takeTerminal: boolean): string {
  const nr = ARCH_INFO[arch].syscalls;
  const die = (what: string) => `do{print STDERR "trl: ${what}\\n";exit ${LAUNCHER_FAILED}}`;
  return [
    `$SIG{__WARN__}=sub{};`,
    `my($ep,$pid,$nss,$who,$rl,$ncg)=splice(@ARGV,0,6);`,
    `my@cg=splice(@ARGV,0,$ncg);`,
    // Host side: the session's cgroups first, so that everything from here on is tracked.
    `for(@cg){my$c;open($c,'>',$_) and syswrite($c,"$$\\n") or ${die('cannot join the session cgroup: $!')}}`,
    // The environment, whole, before anything can change what a path names.
    // Read-write: opening a named pipe for reading alone waits for a writer, and the daemon's may be gone.
    envFd === null ? `open(my$E,'+<',$ep) or ${die("cannot read the command's environment: $!")};` : `open(my$E,'<&=',${envFd}) or ${die("cannot read the command's environment: $!")};`,
    ENV_READ,
    `my@ns;for(split/,/,$nss){open(my$f,'<',"/proc/$pid/ns/$_") or ${die('cannot open the sandbox namespace $_: $! (has the sandbox ended?)')};push@ns,[$_,$f]}`,
    `opendir(my$R,"/proc/$pid/root") or ${die("cannot open the sandbox's root: $!")};`,
    `for(split/,/,$rl){my($r,$v,$m)=split/=/;syscall(${nr.prlimit64},0,$r+0,pack('QQ',$v,$v),0)==0 or ${die('cannot set rlimit $m')}}`,
    takeTerminal ? `$SIG{HUP}='IGNORE';ioctl(STDIN,${TIOCNOTTY},0);` : '',
    `for(@ns){syscall(${nr.setns},fileno($_->[1]),0)==0 or ${die('cannot enter the sandbox namespace $_->[0]: $!')};close$_->[1]}`,
    `chdir($R) and chroot('.') or ${die("cannot enter the sandbox's root: $!")};closedir$R;`,
    // $::D: the entry forker started this process in the sandbox's PID namespace already; it becomes the command.
    `my$k=$::D?0:fork;defined$k or ${die('cannot fork into the sandbox: $!')};`,
    // The parent: wait, stop when the command stops, end as it ended: exit_group at once (Perl's own exit
    // tears its interpreter down, 65 sigactions and more: a millisecond the command's caller waits for).
    `if($k){while(waitpid($k,${WUNTRACED})==$k){if(($?&255)==127){kill'STOP',$$;kill'CONT',$k;next}last}` +
      `my$s=$?&127;if($s){$SIG{HUP}='DEFAULT';kill$s,$$}syscall(${nr.exit_group},$s?128+$s:$?>>8)}`,
    // The child: no capability can come back, then the user.
    `my($u,$g)=split/:/,$who;`,
    `if($who ne ''){syscall(${nr.setgroups},0,0)==0 and syscall(${nr.setresgid},$g+0,$g+0,$g+0)==0 or ${die('cannot switch to group $g: $!')}}`,
    `for(my$c=0;$c<64;$c++){syscall(${nr.prctl},${PR_CAPBSET_DROP},$c,0,0,0)==0 or $!+0==22 ? last : ${die('cannot drop capability $c: $!')}}`,
    `syscall(${nr.prctl},${PR_CAP_AMBIENT},${PR_CAP_AMBIENT_CLEAR_ALL},0,0,0);`,
    // The user switch keeps the permitted set (KEEPCAPS), and the process is made not dumpable before that set goes:
    // until its exec, a process of the session's user (already in the sandbox, with no capability) can never attach
    // to this one before its filter is in place, whatever fs.suid_dumpable says (the switch resets dumpable to it).
    `syscall(${nr.prctl},${PR_SET_KEEPCAPS},1,0,0,0)==0 or ${die('prctl(PR_SET_KEEPCAPS): $!')};`,
    `if($who ne ''){syscall(${nr.setresuid},$u+0,$u+0,$u+0)==0 or ${die('cannot switch to user $u: $!')}}`,
    `syscall(${nr.prctl},${PR_SET_DUMPABLE},0,0,0,0)==0 or ${die('prctl(PR_SET_DUMPABLE): $!')};`,
    // Then no capability at all: permitted, effective and inheritable emptied (the exec would empty them for a user that
    // is not root; this empties them for every case, the daemon's own user included).
    `my$ch=pack('LL',${LINUX_CAPABILITY_VERSION_3},0);my$cd="\\0"x24;syscall(${nr.capset},$ch,$cd)==0 or ${die('cannot drop every capability: $!')};`,
    confineScript(arch, takeTerminal),
  ].join('');
}
