/**
 * The sandbox tier's seccomp loader. Commands enter the sandbox with nsenter,
 * so bwrap's own --seccomp never covers them: the filter is installed by the
 * command's launcher, right before it execs the command. No C compiler is
 * needed: Perl (perl-base is Essential on Debian and Ubuntu) calls prctl and
 * seccomp through its builtin syscall(), with the `struct sock_fprog` built
 * by pack. The script loads no module, so perl's own startup is the whole cost.
 *
 * Flags, because the launcher runs with the command's environment and before
 * any filter: -t (taint warnings) makes perl ignore PERL5OPT, PERL5LIB and
 * PERLLIB, through which the environment could run code in the launcher
 * (PERL5OPT=-d with PERL5DB does); -C0 ignores PERL_UNICODE, which
 * would re-encode the arguments. The taint warnings themselves (about
 * arguments and PATH, which are the command's to choose) are silenced.
 */
import { isAbsolute } from 'node:path';
import { nativeArch, ARCH_INFO, type SeccompArch } from './arch.js';

/** Exit status when the launcher cannot enter the working directory or install the filter (env(1)'s own). */
export const LAUNCHER_FAILED = 125;
/** Exit statuses of a command that cannot be executed, as shells report them. */
export const NOT_EXECUTABLE = 126;
export const NOT_FOUND = 127;

export interface LauncherOptions {
  /** The compiled filter (seccompFilter) for this machine's ABI. */
  filter: Buffer;
  /** Directory the command starts in (entered after the filter is in place). */
  cwd: string;
  /** The command: program (looked up in PATH when it has no slash) and arguments. */
  argv: readonly string[];
  /**
   * Absolute path of perl, resolved by the daemon: a bare name would be looked
   * up in the command's PATH, which could then choose a launcher that installs
   * nothing. Default /usr/bin/perl.
   */
  perl?: string;
  /** The ABI the filter was built for; default this machine's. */
  arch?: SeccompArch;
  /**
   * Descriptor to read the command's whole environment from (its length in
   * bytes as a decimal line, then `NAME=value` entries separated by NUL
   * bytes: the pipe may have a writer left, so no end of file), replacing the
   * launcher's own: the processes that enter the sandbox run with a clean
   * environment (an LD_PRELOAD of the command's must not reach them), and
   * values never appear in an argv.
   */
  envFd?: number;
  /**
   * Make the terminal on stdin the command's controlling terminal: a new
   * session (setsid) that takes the terminal (TIOCSCTTY), so job control,
   * `tty` and Ctrl-C work as in a login. The host side must have released the
   * terminal first (releaseTerminal); SIGHUP, ignored across that release, is
   * restored to its default here. Failing to take it is not fatal: the command
   * runs without a controlling terminal, as a pipe command would.
   */
  takeTerminal?: boolean;
}

/** TIOCSCTTY and TIOCNOTTY (asm-generic: x86_64 and aarch64 alike). */
const TIOCSCTTY = 0x540e;
const TIOCNOTTY = 0x5422;

const PR_SET_NO_NEW_PRIVS = 38;
const SECCOMP_SET_MODE_FILTER = 1;

/**
 * The Perl program: arguments are the filter (hex), the working directory,
 * then the command. `pack('S x6 P')` is `struct sock_fprog` on LP64: an
 * unsigned short count, padding, a pointer to the instructions (kept alive
 * in $f until exec).
 */
function script(arch: SeccompArch, envFd: number | undefined, takeTerminal: boolean): string {
  return [
    `$SIG{__WARN__}=sub{};`,
    envFd === undefined ? '' : `open(my$E,'<&=',${envFd}) or do{print STDERR "trl: cannot read the command's environment: $!\\n";exit ${LAUNCHER_FAILED}};` + ENV_READ,
    confineScript(arch, takeTerminal),
  ].join('');
}

/**
 * Perl that reads the environment from the handle $E (opened already) and
 * makes it the whole of %ENV (for the command's exec).
 */
export const ENV_READ =
  `my$n=<$E>;my$b='';while(length($b)<$n){read($E,$b,$n-length($b),length($b)) or last}close$E;` +
  `length($b)==$n or do{print STDERR "trl: the command's environment was cut short\\n";exit ${LAUNCHER_FAILED}};` +
  `%ENV=();for(split(/\\0/,$b)){my$i=index($_,'=');$ENV{substr($_,0,$i)}=substr($_,$i+1) if$i>0}`;

/**
 * The launcher's last part, shared with the sandbox's entry (sandbox-entry.ts):
 * takes the filter (hex) and the working directory off @ARGV, takes the
 * terminal if asked, sets no_new_privs, installs the filter, enters the
 * directory and execs the rest of @ARGV.
 */
export function confineScript(arch: SeccompArch, takeTerminal: boolean): string {
  const nr = ARCH_INFO[arch].syscalls;
  const terminal = takeTerminal ? `$SIG{HUP}='DEFAULT';syscall(${nr.setsid})>=0 and ioctl(STDIN,${TIOCSCTTY},0);` : '';
  return [
    `my($h,$d)=splice(@ARGV,0,2);`,
    terminal,
    `sub fail{print STDERR "trl: cannot install the seccomp filter ($_[0]: $_[1]): the kernel needs seccomp filters (CONFIG_SECCOMP_FILTER, Linux 3.17+)\\n";exit ${LAUNCHER_FAILED}}`,
    `my$f=pack('H*',$h);`,
    `my$p=pack('S x6 P',length($f)/8,$f);`,
    `syscall(${nr.prctl},${PR_SET_NO_NEW_PRIVS},1,0,0,0)==0 or fail('prctl',$!);`,
    `syscall(${nr.seccomp},${SECCOMP_SET_MODE_FILTER},0,$p)==0 or fail('seccomp',$!);`,
    `chdir($d) or do{print STDERR "trl: cannot enter the working directory $d: $!\\n";exit ${LAUNCHER_FAILED}};`,
    `exec{$ARGV[0]}@ARGV;`,
    `my$e=$!+0;print STDERR "trl: cannot run $ARGV[0]: $!\\n";exit($e==2?${NOT_FOUND}:${NOT_EXECUTABLE});`,
  ].join('');
}

const scripts = new Map<string, string>();

/** The argv that installs `filter`, enters `cwd` and execs `argv`: `[perl, -t, -C0, -e, SCRIPT, --, <hex>, <cwd>, ...argv]`. */
export function seccompLauncher(opts: LauncherOptions): string[] {
  const arch = opts.arch ?? nativeArch();
  if (!arch) throw new Error(`seccomp filters are built for x86_64 and aarch64 Linux only (this is ${process.platform}/${process.arch}); run this tier without the filter`);
  const perl = opts.perl ?? '/usr/bin/perl';
  if (!isAbsolute(perl)) throw new Error(`the seccomp launcher needs perl's absolute path (got ${perl}): resolve it once in the daemon, not through the command's PATH`);
  if (opts.argv.length === 0) throw new Error('the seccomp launcher needs a command to run');
  if (opts.filter.length === 0 || opts.filter.length % 8 !== 0 || opts.filter.length / 8 > 0xffff)
    throw new Error(`not a seccomp filter: ${opts.filter.length} bytes (a whole number of 8-byte instructions is expected)`);
  const key = `${arch}:${opts.envFd ?? ''}:${opts.takeTerminal === true}`;
  let text = scripts.get(key);
  if (!text) scripts.set(key, (text = script(arch, opts.envFd, opts.takeTerminal === true)));
  return [perl, '-t', '-C0', '-e', text, '--', opts.filter.toString('hex'), opts.cwd, ...opts.argv];
}

/**
 * The host side's half of takeTerminal: `[perl, -e, SCRIPT, --, ...argv]`
 * run by the session leader that holds the terminal (the process a PTY was
 * spawned with): it gives the terminal up (TIOCNOTTY, whose SIGHUP to its own
 * group is ignored) and execs argv. Across a PID namespace the terminal's
 * session would otherwise stay outside, where the command cannot see it.
 */
export function releaseTerminal(perl: string, argv: readonly string[]): string[] {
  return [perl, '-e', `$SIG{HUP}='IGNORE';ioctl(STDIN,${TIOCNOTTY},0);exec{$ARGV[0]}@ARGV;exit 127`, '--', ...argv];
}
