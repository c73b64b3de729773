import { closeSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import type { ExitStatus } from '../tier.js';
import { ARCH_INFO, type SeccompArch } from '../shared/seccomp/arch.js';
import { fdPassing, type FdPassing } from '../shared/fd-passing.js';
import { errnoName } from '../shared/libc.js';
import { decodeWaitStatus, nativeSpawner, type NativeSpawner, type Started } from '../shared/native-spawn.js';
import { SpawnError } from '../shared/spawn-error.js';
import { drainPipeNow } from '../host/pipe-drain.js';
import { entryScript } from './sandbox-entry.js';

/**
 * The sandbox's entry (sandbox-entry.ts), compiled once and forked for each
 * command. A fresh Perl for every command spends about 1.1 ms starting and
 * 0.5 ms compiling the entry before it does anything: more than entering
 * the sandbox itself. The forker is one resident Perl process of the
 * daemon's, outside every sandbox, started like any command (posix_spawn,
 * clean environment, no descriptor of the daemon's but a socket and a pipe);
 * for each command it receives the command's descriptors (SCM_RIGHTS on a
 * socket pair of packets, fd-passing.ts) and the entry's arguments, forks,
 * and the child runs exactly the entry a fresh Perl would: the same program,
 * the same steps, as a new session with every signal at its default. It
 * answers each request with the child's pid (or fork's errno) and reports
 * each child's wait status when it reaps it; the entry, its child, waits for
 * the command and ends as it ended, as before.
 *
 * What it changes for isolation: nothing a command can reach. It is not in
 * any sandbox (commands' PID namespaces cannot see it), it is not dumpable,
 * each child closes every descriptor of the forker's before the entry runs
 * (its socket, signalfd, /dev/null, its own PID namespace), and it takes
 * requests from the daemon alone. It ends when the daemon's end
 * of the socket closes, the daemon's exit included.
 *
 * When it cannot take a request (not started yet, gone, its queue full, a
 * request over 64 KiB, a terminal command: that variant takes its terminal
 * from a fresh process), the command gets a fresh Perl entry, as before. A
 * request it took and never answers fails after 10 s (the forker is then
 * killed and started again), and one it took when it died fails at once.
 */

/** A spawn function: NativeSpawner's. */
type Spawn = NativeSpawner['spawn'];

/** The forker's buffer for one request: larger ones take a fresh entry. */
const MAX_REQUEST = 65536;
/** A request the forker has not answered by then: it is killed and started again. */
const ANSWER_TIMEOUT_MS = 10_000;
/** After the forker ended or failed to start: commands take fresh entries this long before it is tried again. */
const RETRY_MS = 2_000;
/** How often a command orphaned by the forker's end is looked for, until it is gone. */
const ORPHAN_POLL_MS = 200;
/** SIGCHLD on x86_64 and aarch64. */
const SIGCHLD = 17;

interface Pending {
  resolve: (r: Started) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface ForkerOptions {
  perl: string;
  arch: SeccompArch;
  /** The descriptor the entry reads the command's environment from. */
  envFd: number;
  /** Environment of the forker itself (what its children's /proc/PID/environ shows). */
  env: Record<string, string>;
}

/** Spawns through the forker when it can take a request, else with a fresh entry; starts the forker again after it ended. */
export class EntryForker {
  private current: ForkerProcess | null = null;
  private retryAt = 0;
  /** Stopped for good (the tier closed): no forker is started again. */
  private closed = false;
  /** The entry the forker runs: requests for any other take a fresh one. */
  readonly script: string;

  private constructor(
    private readonly o: ForkerOptions,
    private readonly native: NativeSpawner,
    private readonly passing: FdPassing,
  ) {
    this.script = entryScript(o.arch, o.envFd, false);
  }

  /** A forker for the pipe entry; null where descriptors cannot be passed (no koffi, not glibc). */
  static create(o: ForkerOptions): EntryForker | null {
    const native = nativeSpawner();
    const passing = fdPassing();
    return native && passing ? new EntryForker(o, native, passing) : null;
  }

  /** Start the forker unless it runs or is starting; in the background: commands take fresh entries until it is ready. */
  warm(): void {
    if (this.current || this.closed || Date.now() < this.retryAt) return;
    try {
      this.current = new ForkerProcess(this.o, forkerScript(this.o.arch, this.script), this.native, this.passing, (gone) => {
        if (this.current === gone) this.current = null;
        this.retryAt = Date.now() + RETRY_MS;
      });
    } catch {
      this.retryAt = Date.now() + RETRY_MS;
    }
  }

  /** NativeSpawner's spawn, through the forker when it can take the request, else a fresh entry. */
  readonly spawn: Spawn = (file, argv, opts) => {
    const forker = this.current;
    if (forker?.state === 'ready' && argv[4] === this.script && argv[5] === '--') {
      const started = forker.spawn(argv.slice(6), opts);
      if (started) return started;
    } else this.warm();
    return this.native.spawn(file, argv, opts);
  };

  /** End the forker for good (the tier closes): commands it started and has not reported end with no status once they are gone. */
  stop(): void {
    this.closed = true;
    this.current?.stop();
    this.current = null;
  }
}

/** One forker process, from its start to its end. */
class ForkerProcess {
  state: 'starting' | 'ready' | 'down' = 'starting';
  pid = 0;
  private socket: number;
  private readonly replies: Socket;
  private readonly replyFd: number;
  private partial = '';
  private nextId = 1;
  private readonly starts = new Map<number, Pending>();
  private readonly exits = new Map<number, (s: ExitStatus) => void>();

  constructor(
    o: ForkerOptions,
    script: string,
    native: NativeSpawner,
    private readonly passing: FdPassing,
    private readonly onEnd: (p: ForkerProcess) => void,
  ) {
    const pair = passing.pair();
    let reply: { read: number; write: number };
    try {
      reply = native.pipe();
    } catch (e) {
      closeSync(pair.ours);
      closeSync(pair.theirs);
      throw e;
    }
    this.socket = pair.ours;
    const replies = new Socket({ fd: reply.read, readable: true, writable: false });
    this.replies = replies;
    this.replyFd = reply.read;
    replies.setEncoding('latin1');
    replies.on('data', (chunk: string) => this.onReplies(chunk));
    replies.on('error', () => replies.destroy());
    // Every writer of the pipe is gone: the forker (its children close their copy before anything else).
    replies.on('close', () => this.ended());
    native
      .spawn(o.perl, [o.perl, '-t', '-C0', '-e', script, '--'], { cwd: '/', env: o.env, stdio: ['ignore', reply.write, 2, pair.theirs] })
      .then(
        ({ pid }) => {
          this.pid = pid;
          if (this.state === 'down') this.kill();
        },
        () => replies.destroy(),
      )
      .finally(() => {
        closeSync(pair.theirs);
        closeSync(reply.write);
      });
  }

  /** Hand the request over; null when it cannot be (too large, the forker's queue full or gone): the caller starts a fresh entry. */
  spawn(args: readonly string[], opts: Parameters<Spawn>[2]): Promise<Started> | null {
    const fds: number[] = [];
    let map = '';
    opts.stdio.forEach((fd, target) => {
      if (fd === 'ignore') map += target <= 2 ? 'n' : 'x';
      else {
        fds.push(fd);
        map += 'f';
      }
    });
    const env: string[] = [];
    for (const k in opts.env) env.push(`${k}=${opts.env[k]}`);
    const id = this.nextId++;
    const body = Buffer.from([String(id), opts.cwd, map, String(env.length), ...env, ...args].join('\0'));
    if (body.length > MAX_REQUEST) return null;
    const sent = this.passing.send(this.socket, body, fds);
    if (sent !== 'sent') {
      if (sent === 'closed') this.stop();
      return null;
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // An event loop held up as long gets the answers it has not read yet first.
        drainPipeNow(this.replies, this.replyFd, (chunk) => this.onReplies(chunk.toString('latin1')));
        if (!this.starts.has(id)) return;
        this.starts.delete(id);
        reject(new SpawnError(`the sandbox's entry forker did not answer within ${ANSWER_TIMEOUT_MS / 1000} s (it is started again)`, 'ETIMEDOUT'));
        this.stop();
      }, ANSWER_TIMEOUT_MS);
      this.starts.set(id, { resolve, reject, timer });
    });
  }

  /** Close the daemon's end (the forker exits at it) and kill it, in case it is stuck; what it owed is settled when its pipe closes. */
  stop(): void {
    if (this.state === 'down') return;
    this.state = 'down';
    closeSync(this.socket);
    this.socket = -1;
    this.kill();
    this.onEnd(this);
  }

  private kill(): void {
    if (this.pid <= 0) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }

  private onReplies(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, a, b, c] = line.split(' ');
      const x = Number(a);
      const y = Number(b);
      if (kind === 'R') {
        if (this.state === 'starting') this.state = 'ready';
      } else if (kind === 'P' || kind === 'E') {
        const p = this.starts.get(x);
        if (!p) continue;
        this.starts.delete(x);
        clearTimeout(p.timer);
        if (kind === 'P') p.resolve({ pid: y, exited: new Promise<ExitStatus>((resolve) => this.exits.set(y, resolve)), ...(c === '1' ? { direct: true } : {}) });
        else {
          const code = errnoName(y) ?? 'EIO';
          p.reject(new SpawnError(`the sandbox's entry could not fork (${code})`, code));
        }
      } else if (kind === 'X') {
        this.exits.get(x)?.(decodeWaitStatus(y));
        this.exits.delete(x);
      }
    }
  }

  /**
   * The forker's pipe closed: it is gone. Requests it did not answer fail.
   * Its children are orphans now, reaped by another process: each is
   * reported ended, with no status, once it is gone, not before.
   */
  private ended(): void {
    this.stop();
    for (const p of this.starts.values()) {
      clearTimeout(p.timer);
      p.reject(new SpawnError("the sandbox's entry forker ended before starting the command", 'EIO'));
    }
    this.starts.clear();
    for (const [pid, resolve] of this.exits) whenGone(pid, procStart(pid)?.start ?? null, () => resolve({ code: null, signal: null }));
    this.exits.clear();
  }
}

/** When process `pid` started (field 22 of /proc/PID/stat, clock ticks since boot), and whether it is a zombie; null: no such process. */
function procStart(pid: number): { start: string; zombie: boolean } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // After the command's name, in parentheses (which may hold anything): state is the first field, starttime the 20th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { start: fields[19] ?? '', zombie: fields[0] === 'Z' };
}

/** Call `then` once the process `pid` that started at `start` has exited: gone, a zombie nobody reaps, or the pid another's. */
function whenGone(pid: number, start: string | null, then: () => void): void {
  const now = procStart(pid);
  if (!now || now.zombie || now.start !== start) return then();
  setTimeout(() => whenGone(pid, start, then), ORPHAN_POLL_MS).unref();
}

/**
 * The forker's Perl program. Its socket is fd 3, its answers go to stdout.
 * SIGCHLD is blocked and read from a signalfd, so a child's exit and a
 * request wait in one select without a race. A request's descriptors
 * arrive close-on-exec; the child moves each to its place (`f`: the next
 * one received, `n`: /dev/null, `x`: closed), closes every other, and runs
 * the entry.
 */
export function forkerScript(arch: SeccompArch, entry: string): string {
  const nr = ARCH_INFO[arch].syscalls;
  const PR_SET_DUMPABLE = 4;
  const F_SETFD = 2;
  const FD_CLOEXEC = 1;
  const F_DUPFD_CLOEXEC = 1030;
  const SIG_BLOCK = 0;
  const SIG_SETMASK = 2;
  const SFD_FLAGS = 0x80800; // SFD_CLOEXEC | SFD_NONBLOCK
  const CLONE_NEWPID = 0x20000000;
  const MSG_TRUNCS = 0x28; // MSG_TRUNC | MSG_CTRUNC
  const EBADMSG = 74;
  const MSG_FLAGS = 0x40000040; // MSG_CMSG_CLOEXEC | MSG_DONTWAIT
  const die = (what: string) => `die "trl entry forker: ${what}: $!\\n"`;
  const fail = (what: string) => `do{print STDERR "trl: ${what}: $!\\n";exit 125}`;
  return [
    `sub entry{${entry}}`,
    `$SIG{__WARN__}=sub{};`,
    `syscall(${nr.prctl},${PR_SET_DUMPABLE},0,0,0,0)==0 or ${die('prctl(PR_SET_DUMPABLE)')};`,
    `syscall(${nr.fcntl},3,${F_SETFD},${FD_CLOEXEC})==0 or ${die('its socket (fd 3)')};`,
    `open(my$N,'+<','/dev/null') or ${die('/dev/null')};`,
    `my$B=pack('Q',1<<${SIGCHLD - 1});`,
    `syscall(${nr.rt_sigprocmask},${SIG_BLOCK},$B,0,8)==0 or ${die('sigprocmask')};`,
    `my$F=syscall(${nr.signalfd4},-1,$B,8,${SFD_FLAGS});$F>=0 or ${die('signalfd')};`,
    `open(my$SF,'<&=',$F) or ${die('signalfd')};`,
    `open(my$SELF,'<','/proc/self/ns/pid') or ${die('its own PID namespace')};`,
    `my$buf="\\0"x${MAX_REQUEST};my$ctl="\\0"x256;`,
    `my$rin='';vec($rin,3,1)=1;vec($rin,$F,1)=1;`,
    `syswrite(STDOUT,"R\\n");`,
    `for(;;){`,
    `my$r=select(my$ro=$rin,undef,undef,undef);`,
    `if($r<0){$!+0==4 and next;${die('select')}}`,
    // Reap every child that ended; one line each.
    `if(vec($ro,$F,1)){sysread($SF,my$x,4096);my$o='';while((my$p=waitpid(-1,1))>0){$o.="X $p $?\\n"}syswrite(STDOUT,$o) if$o ne''}`,
    `vec($ro,3,1) or next;`,
    `my$iov=pack('PQ',$buf,${MAX_REQUEST});`,
    `my$msg=pack('QLx4PQPQLx4',0,0,$iov,1,$ctl,256,0);`,
    `my$n=syscall(${nr.recvmsg},3,$msg,${MSG_FLAGS});`,
    `if($n<0){my$e=$!+0;$e==4||$e==11 and next;${die('recvmsg')}}`,
    // The daemon closed its end: it is gone or wants this forker gone.
    `$n or exit 0;`,
    `my$cl=unpack('x40Q',$msg);my@fd;`,
    `for(my$o=0;$o+16<=$cl;){my($l,$v,$t)=unpack('QLL',substr($ctl,$o,16));$l>=16 or last;push@fd,unpack('L*',substr($ctl,$o+16,$l-16)) if$v==1&&$t==1;$o+=($l+7)&~7}`,
    `my($id,$cwd,$map,$ne,@a)=split(/\\0/,substr($buf,0,$n),-1);`,
    `my@env=splice(@a,0,$ne);`,
    // A request whose descriptors did not all arrive (or that was cut) starts nothing: EBADMSG.
    `if(unpack('x48L',$msg)&${MSG_TRUNCS} or length($map)<3 or @fd!=($map=~tr/f//)){syswrite(STDOUT,"E $id ${EBADMSG}\\n");syscall(${nr.close},$_)for@fd;next}`,
    // Fork straight into the sandbox's PID namespace where it may (a root daemon's: the namespace's owner is ours),
    // then back: the child is then the command itself, without an entry forking once more and waiting for it.
    `my$d=0;if($a[1]=~/^[1-9][0-9]*$/ and open(my$P,'<',"/proc/$a[1]/ns/pid")){$d=syscall(${nr.setns},fileno($P),${CLONE_NEWPID})==0?1:0;close$P}`,
    `my$k=fork;`,
    // (Not in the child: it is in the sandbox's namespace now, and stays for children of its own.)
    `if($d&&($k//1)){syscall(${nr.setns},fileno($SELF),${CLONE_NEWPID})==0 or ${die('cannot return to its own PID namespace')};` +
      // A namespace whose first process has died takes no new one: the entry forks and says so.
      `if(!defined$k){$d=0;$k=fork}}`,
    `if(!defined$k){syswrite(STDOUT,"E $id ".($!+0)."\\n")}`,
    `elsif($k){syswrite(STDOUT,"P $id $k $d\\n")}`,
    `else{`,
    // The child: what posix_spawn gave a fresh entry (nothing blocked, a new session, its descriptors), then the entry.
    // (A variable: syscall passes a string by address, and a constant is read-only.)
    `my$none="\\0"x8;syscall(${nr.rt_sigprocmask},${SIG_SETMASK},$none,0,8);close$SF;syscall(${nr.close},3);`,
    `syscall(${nr.setsid});`,
    // Copies above any target first (a received descriptor may sit where another goes), then each in its place.
    `my@s=map{syscall(${nr.fcntl},$_,${F_DUPFD_CLOEXEC},64)}@fd,fileno($N);syscall(${nr.close},$_)for@fd;close$N;close$SELF;`,
    `my$z=pop@s;my$i=0;`,
    `for(split//,$map){my$t=$i++;if($_ eq'x'){syscall(${nr.close},$t);next}syscall(${nr.dup3},$_ eq'f'?shift@s:$z,$t,0)>=0 or ${fail('cannot set up the entry descriptors')}}`,
    `syscall(${nr.close},$z);`,
    `chdir($cwd) or ${fail('cannot enter $cwd')};`,
    `%ENV=();for(@env){my$j=index($_,'=');$ENV{substr($_,0,$j)}=substr($_,$j+1) if$j>0}`,
    `@ARGV=@a;$::D=$d;entry();exit 125}`,
    `syscall(${nr.close},$_)for@fd}`,
  ].join('');
}
