import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Backend, BackendSession, Enforcement, KillScope, Requirement, SessionLimits, SessionOptions, SpawnedProcess, SpawnSpec, TierHealth } from '../tier.js';
import { bwrapArgs, type BoundPath, type HostProbe, type PathKind } from './bwrap-args.js';
import { fifoDirPrefix } from '../shared/fifo-pool.js';
import { HostSession, SpawnError, type HostBackend, type Launch } from '../host/host-tier.js';
import { parentOf, TAG_VAR } from '../shared/process-table.js';
import { isolatedUser, type RunAs } from '../shared/run-as.js';
import { nativeArch, seccompFilter, seccompLauncher } from '../shared/seccomp/index.js';
import { shellQuote } from '../shared/shell-quote.js';
import { sleep } from '../shared/signals.js';
import { guardWorkspace, type WorkspaceGuard } from '../shared/workspace-guard.js';

const INFO_FD = 3;
/** bwrap's descriptors for the workspace and the guarded paths start here. */
const FIRST_BIND_FD = 4;
/** The command's environment reaches the launcher on this descriptor (seccomp/launcher.ts). */
const ENV_FD = 4;
const START_TIMEOUT_MS = 10_000;
const TMP_BYTES = 1024 * 1024 * 1024;
/** Variables a sandboxed shell gets from the daemon's environment; the rest (credentials included) stay outside. */
const PASSED_VARS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TERM'];
/** The whole environment of the host-side processes that enter a sandbox: nothing of the command's. */
const ENTRY_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
/** open(2) flags Node does not name (the same on x86_64 and aarch64). */
const O_PATH = 0o10000000;

export interface SandboxSettings {
  /** Paths hidden in every sandbox besides the home secret stores (env file, logs, runtime directory, sandbox_hide). */
  hide: string[];
  /** UID[:GID] commands run as when the daemon is root (isolated_user); default: the workspace's owner. */
  user: string | undefined;
}

/** The host filesystem as bwrapArgs sees it. */
export const hostProbe: HostProbe = {
  kind(path: string): PathKind {
    try {
      const st = lstatSync(path);
      return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
    } catch {
      return null;
    }
  },
  readlink: (path) => readlinkSync(path),
  realpath: (path) => realpathSync(path),
};

/**
 * bubblewrap sandboxes (DESIGN §7): one per session, alive as long as the
 * session, so background processes and the private /tmp survive between
 * commands. Commands enter the sandbox's namespaces with nsenter; setpriv
 * drops every capability (and, under a root daemon, switches to the session's
 * unprivileged user); the Perl launcher then installs the seccomp filter,
 * takes the command's environment from a pipe, enters the working directory
 * and execs the command. Everything before the launcher runs on the host side
 * with a clean environment, so nothing of the command's (an LD_PRELOAD of a
 * library in the workspace) reaches a process that is not yet confined.
 * Commands are otherwise started like host commands (same cgroups, rlimits,
 * tags, pipes, PTY), so everything the host tier does for trees, limits and
 * output holds here too.
 */
export class SandboxBackend implements Backend {
  readonly name = 'sandbox' as const;
  readonly isolated = true;
  readonly images = false;
  /** /tmp and /run are the sandbox's own: paths are checked inside, by the shell. */
  readonly hostPaths = false;
  readonly defaultShell = undefined;
  readonly tools: { bwrap: string | null; nsenter: string | null; setpriv: string | null; perl: string | null };
  /** The seccomp programs: with Unix sockets (network: true) and without. Null: no filter for this machine's ABI. */
  readonly filters: { network: Buffer; isolated: Buffer } | null;

  /** Private directory (named like the FIFO directories, so crash recovery removes it). */
  private readonly dir: string;
  /** An empty file mounted over hidden files, an empty directory over ghosts. */
  readonly emptyFile: string;
  readonly emptyDir: string;
  /** A workspace for the health check, writable by anyone (sticky), inside the private directory. */
  private readonly healthWorkspace: string;
  /** Sandboxes not yet killed. */
  readonly live = new Set<{ kill(): Promise<void> }>();

  constructor(
    readonly host: HostBackend,
    readonly settings: SandboxSettings,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), fifoDirPrefix(host.instanceId)));
    chmodSync(this.dir, 0o711);
    this.emptyFile = join(this.dir, 'empty');
    writeFileSync(this.emptyFile, '', { mode: 0o444 });
    this.emptyDir = join(this.dir, 'none');
    mkdirSync(this.emptyDir, { mode: 0o555 });
    this.healthWorkspace = join(this.dir, 'health');
    mkdirSync(this.healthWorkspace);
    chmodSync(this.healthWorkspace, 0o1777);
    this.tools = { bwrap: which('bwrap'), nsenter: which('nsenter'), setpriv: which('setpriv'), perl: which('perl') };
    const arch = nativeArch();
    this.filters = arch
      ? { network: seccompFilter({ arch, blockUnixSockets: false }), isolated: seccompFilter({ arch, blockUnixSockets: true }) }
      : null;
  }

  async healthCheck(): Promise<TierHealth> {
    const missing = Object.entries(this.tools).filter(([, p]) => p === null).map(([n]) => n);
    if (process.platform !== 'linux') return { available: false, isolated: true, detail: 'bubblewrap sandboxes need Linux' };
    if (missing.length > 0) {
      return { available: false, isolated: true, detail: `${missing.join(', ')} not found in PATH: apt-get install bubblewrap util-linux perl-base (or your distribution's packages)` };
    }
    if (!this.filters) {
      return { available: false, isolated: true, detail: `seccomp filters are built for x86_64 and aarch64 only (this is ${process.arch}): the sandbox cannot block Unix sockets and keyrings here` };
    }
    let session: SandboxSession | null = null;
    try {
      session = await SandboxSession.start(this, { sessionTag: 'health', limits: {}, workspace: this.healthWorkspace, network: false, image: undefined });
      const status = await session.run(['/bin/sh', '-c', 'exit 0']);
      if (status !== 0) return { available: false, isolated: true, detail: `a command in a fresh sandbox exited ${status}` };
      return {
        available: true,
        isolated: true,
        detail: `bubblewrap ${this.tools.bwrap}: own pid/ipc/uts/net namespaces, read-only system, private /tmp, no capabilities, seccomp (no Unix sockets without network, no keyrings)`,
      };
    } catch (err) {
      return { available: false, isolated: true, detail: `${(err as Error).message}` };
    } finally {
      await session?.destroy(0, []);
    }
  }

  async requirements(): Promise<Requirement[]> {
    const t = this.tools;
    const reqs: Requirement[] = [
      { need: 'Linux', present: process.platform === 'linux', found: process.platform },
      { need: 'bwrap (bubblewrap)', present: t.bwrap !== null, found: t.bwrap ? `${t.bwrap} ${await versionOf(t.bwrap)}` : 'missing: apt-get install bubblewrap' },
      { need: 'nsenter (commands join the sandbox)', present: t.nsenter !== null, found: t.nsenter ?? 'missing: apt-get install util-linux' },
      { need: 'setpriv (commands drop every capability)', present: t.setpriv !== null, found: t.setpriv ?? 'missing: apt-get install util-linux' },
      { need: 'perl (installs the seccomp filter)', present: t.perl !== null, found: t.perl ?? 'missing: apt-get install perl-base' },
      {
        need: 'a seccomp filter for this ABI (x86_64, aarch64)',
        present: this.filters !== null,
        found: this.filters ? `${nativeArch()}: no Unix sockets without network, no keyrings, no io_uring, no new namespaces` : `none for ${process.arch}`,
      },
    ];
    if (process.getuid?.() !== 0) {
      const userns = readSysctl('/proc/sys/kernel/unprivileged_userns_clone') ?? '1';
      const max = readSysctl('/proc/sys/user/max_user_namespaces') ?? '1';
      const ok = userns !== '0' && max !== '0';
      reqs.push({ need: 'unprivileged user namespaces (not root)', present: ok, found: ok ? 'enabled' : 'disabled: sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000' });
    }
    return reqs;
  }

  enforcement(): Enforcement {
    const host = this.host.enforcement();
    return { ...host, detail: `${host.detail}; inside bubblewrap namespaces with a seccomp filter` };
  }

  async createSession(opts: SessionOptions): Promise<BackendSession> {
    return SandboxSession.start(this, opts);
  }

  baseEnv(runtimeEnv: ReadonlyMap<string, string>): Map<string, string> {
    const env = new Map<string, string>();
    for (const [k, v] of runtimeEnv) if (PASSED_VARS.includes(k) || k.startsWith('LC_')) env.set(k, v);
    if (process.getuid?.() === 0) {
      // Commands run as another user: root's home is not theirs; the sandbox's private /tmp is.
      env.set('HOME', '/tmp');
      env.delete('USER');
      env.delete('LOGNAME');
    }
    return env;
  }

  /** The host tier reaps every instance's cgroups, tagged processes and ghosts; sandboxes die with their daemon (--die-with-parent). */
  async deadInstances(): Promise<string[]> {
    return [];
  }

  async reapInstance(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    // Sessions are destroyed before the tiers close; whatever is left (one still starting) goes now.
    await Promise.all([...this.live].map((s) => s.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The whole bwrap command line of a new sandbox; `fds` name the bound descriptors. */
  argv(opts: SessionOptions, bound: BoundLayout): string[] {
    const args = bwrapArgs(
      {
        workspace: bound.workspace,
        guard: bound.guard,
        emptyDir: this.emptyDir,
        network: opts.network,
        home: homedir(),
        root: process.getuid?.() === 0,
        hide: this.settings.hide,
        infoFd: INFO_FD,
        tmpBytes: TMP_BYTES,
        emptyFile: this.emptyFile,
      },
      hostProbe,
    );
    // The holder keeps the namespaces alive; "ready" says the mounts are in place.
    return [...args, '--', '/bin/sh', '-c', 'echo ready; exec sleep 2147483647'];
  }
}

/** The workspace and its guarded paths, each with the descriptor it is bound through. */
interface BoundLayout {
  workspace: BoundPath;
  guard: { mountPoints: BoundPath[]; readOnly: BoundPath[]; ghosts: string[] };
}

/**
 * Open the workspace and every guarded path without following a symlink in
 * the last component, and check that each descriptor is what was checked
 * (the kernel's own name for it, its type). bwrap then binds the descriptors,
 * so a directory swapped for a symlink after the check binds nothing new.
 */
function openLayout(workspace: string, guard: WorkspaceGuard): { bound: BoundLayout; fds: number[] } {
  const fds: number[] = [];
  const open = (path: string, dir: boolean): BoundPath | null => {
    let fd: number;
    try {
      fd = openSync(path, O_PATH | constants.O_NOFOLLOW | (dir ? constants.O_DIRECTORY : 0));
    } catch {
      return null; // changed since the guard looked: nothing of it to bind
    }
    const st = fstatSync(fd);
    if (st.isSymbolicLink() || readlinkSync(`/proc/self/fd/${fd}`) !== path) {
      closeSync(fd);
      return null;
    }
    fds.push(fd);
    return { path, fd: FIRST_BIND_FD + fds.length - 1 };
  };
  try {
    const ws = open(workspace, true);
    if (!ws) throw new Error(`the workspace ${workspace} changed while the sandbox was being set up (a symlink?); try again`);
    const bound: BoundLayout = {
      workspace: ws,
      guard: {
        mountPoints: guard.mountPoints.map((p) => open(p, true)).filter((b): b is BoundPath => b !== null),
        readOnly: guard.readOnly.map((p) => open(p, false)).filter((b): b is BoundPath => b !== null),
        ghosts: guard.ghosts,
      },
    };
    return { bound, fds };
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
}

class SandboxSession extends HostSession {
  /**
   * Each command's leader: the nsenter that forked the command into the pid
   * namespace and waits for it, exiting with its status (or its signal). It is
   * never signalled itself — a kill would report nsenter's death instead of the
   * command's, and orphan the command — it ends when the command does.
   */
  private readonly launchers = new Set<number>();

  private constructor(
    backend: HostBackend,
    tag: string,
    limits: SessionLimits,
    private readonly sandbox: SandboxBackend,
    private readonly holder: ChildProcess,
    /** Host pid of the sandbox's pid 1: its namespaces are the ones commands enter. */
    private readonly nsPid: number,
    private readonly network: boolean,
    private readonly runAs: RunAs | null,
    private readonly ghosts: string[],
  ) {
    super(backend, tag, limits);
  }

  /** Start the sandbox and wait until its mounts are in place. */
  static async start(sandbox: SandboxBackend, opts: SessionOptions): Promise<SandboxSession> {
    if (opts.workspace === '/') throw new Error("workspace '/' would make the whole filesystem writable; pass a project directory as workspace");
    const runAs = isolatedUser(sandbox.settings.user, opts.workspace);
    const guard = guardWorkspace(opts.workspace);
    const { bound, fds } = openLayout(opts.workspace, guard);
    sandbox.host.ghosts.acquire(guard.ghosts);
    let child: ChildProcess;
    try {
      child = spawn(sandbox.tools.bwrap!, sandbox.argv(opts, bound), {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe', ...fds],
        cwd: '/',
        env: { PATH: ENTRY_PATH },
      });
    } catch (err) {
      sandbox.host.ghosts.release(guard.ghosts);
      throw err;
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    try {
      const nsPid = await waitReady(child);
      const session = new SandboxSession(sandbox.host, opts.sessionTag, opts.limits, sandbox, child, nsPid, opts.network, runAs, guard.ghosts);
      sandbox.live.add(session);
      return session;
    } catch (err) {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
      sandbox.host.ghosts.release(guard.ghosts);
      throw err;
    }
  }

  /**
   * Host side: the prologue (cgroups, rlimits), then the command's
   * environment opened from its pipe as fd 4, then into the namespaces
   * without capabilities (as the session's user), all with a clean
   * environment. Inside: the launcher.
   */
  protected override launch(spec: SpawnSpec): Launch {
    const { nsenter, setpriv, perl } = this.sandbox.tools;
    const argv = spec.program.kind === 'shell' ? [spec.program.shell, '-c', spec.program.script] : spec.program.argv;
    const env = { ...spec.env, [TAG_VAR]: this.tagOf(spec.commandTag) };
    const channel = this.envChannel(env);
    const ns = ['-m', '-p', '-i', '-u', ...(this.network ? [] : ['-n']), ...(process.getuid?.() === 0 ? [] : ['-U', '--preserve-credentials'])];
    const user = this.runAs ? [`--reuid=${this.runAs.uid}`, `--regid=${this.runAs.gid}`, '--clear-groups'] : [];
    const entry =
      // Read-write: opening a pipe for reading alone waits for a writer, and the daemon's may be gone.
      `exec ${ENV_FD}<>"$1"; shift\n` +
      `exec ${shellQuote(nsenter!)} -t ${this.nsPid} ${ns.join(' ')} -r -w -- ` +
      `${shellQuote(setpriv!)} ${user.join(' ')} --bounding-set=-all --inh-caps=-all --no-new-privs -- "$@"`;
    const filter = this.network ? this.sandbox.filters!.network : this.sandbox.filters!.isolated;
    const launcher = seccompLauncher({ filter, cwd: spec.cwd, argv, perl: perl!, envFd: ENV_FD });
    return {
      file: '/bin/sh',
      args: ['-c', this.prologue ? `${this.prologue}\n${entry}` : entry, 'sh', channel.path, ...launcher],
      cwd: '/',
      env: { PATH: ENTRY_PATH, [TAG_VAR]: env[TAG_VAR]! },
      release: channel.release,
    };
  }

  /**
   * A pipe the host-side shell opens by path, holding the command's
   * environment (NAME=value entries, NUL-separated): a terminal's child
   * inherits no extra descriptor, and values must not travel in an argv.
   */
  private envChannel(env: Record<string, string>): { path: string; release: () => void } {
    const fifos = this.backend.fifos;
    if (!fifos) throw new SpawnError('the sandbox tier needs mkfifo (coreutils) to pass a command its environment', 'ENOENT');
    const ch = fifos.forChild();
    const body = Buffer.from(Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join(''));
    const payload = Buffer.concat([Buffer.from(`${body.length}\n`), body]);
    const writer = new Socket({ fd: ch.write, readable: false, writable: true });
    writer.on('error', () => undefined); // the command ended before reading it all
    // The held read end keeps what is written until the shell opens the pipe, whenever that is.
    writer.end(payload, () => writer.destroy());
    return {
      path: ch.path,
      release: () => {
        writer.destroy();
        ch.release();
      },
    };
  }

  override async spawn(spec: SpawnSpec): Promise<SpawnedProcess> {
    const proc = await super.spawn(spec);
    this.launchers.add(proc.pid);
    void proc.exited.then(() => this.launchers.delete(proc.pid));
    return proc;
  }

  protected override processesNow(scope: KillScope): number[] {
    const pids = super.processesNow(scope);
    return this.launchers.size === 0 ? pids : pids.filter((p) => !this.launchers.has(p));
  }

  override describe(): Record<string, string> {
    const d: Record<string, string> = { sandbox_pid: String(this.nsPid), network: this.network ? 'host' : 'none' };
    if (this.runAs) d.user = `${this.runAs.uid}:${this.runAs.gid}`;
    return d;
  }

  /** Run argv in the sandbox (no pipes, no tag): the health check. Resolves with the exit code. */
  async run(argv: string[]): Promise<number | null> {
    const l = this.launch({ program: { kind: 'argv', argv }, env: { PATH: ENTRY_PATH }, cwd: '/', stdin: 'ignore', stateFd: false, commandTag: 'health' });
    try {
      const child = spawn(l.file, l.args, { cwd: l.cwd, stdio: 'ignore', env: l.env });
      return await new Promise((resolve, reject) => {
        // A start-up must not hang on a sandbox that never answers.
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`a command in a fresh sandbox did not finish within ${START_TIMEOUT_MS / 1000} s`));
        }, START_TIMEOUT_MS);
        child.once('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    } finally {
      l.release?.();
    }
  }

  override async destroy(graceMs: number, pgids: number[]): Promise<number> {
    const killed = await super.destroy(graceMs, pgids);
    await this.kill();
    return killed;
  }

  /**
   * Kill the sandbox: its pid 1 first (the kernel then kills every process in
   * its pid namespace), then bubblewrap's monitor. Killing the monitor alone
   * relies on pid 1's parent-death signal; this does not. Once bubblewrap is
   * gone, so are its mounts: the ghosts it mounted over can be removed.
   */
  async kill(): Promise<void> {
    if (!this.sandbox.live.delete(this)) return;
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      const gone = new Promise((r) => this.holder.once('exit', r));
      if (parentOf(this.nsPid) === this.holder.pid) {
        try {
          process.kill(this.nsPid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      this.holder.kill('SIGKILL');
      await Promise.race([gone, sleep(2000)]);
    }
    this.backend.ghosts.release(this.ghosts);
  }
}

/** Read bwrap's info (the sandbox's pid) and the holder's "ready"; reject with bwrap's own complaint if it dies. */
function waitReady(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let info = '';
    let out = '';
    let err = '';
    let nsPid: number | null = null;
    let ready = false;
    const timer = setTimeout(() => fail(`bubblewrap did not start within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    const done = () => {
      if (nsPid !== null && ready) {
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        (child.stdout as Readable).removeAllListeners('data');
        resolve(nsPid);
      }
    };
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(why));
    };
    const onExit = () => {
      const msg = err.trim().split('\n').pop() ?? '';
      fail(`bubblewrap exited at start${msg ? `: ${msg}` : ''}${/namespace|permission/i.test(msg) ? ' (unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1, or run the daemon as root)' : ''}`);
    };
    child.once('error', (e) => fail(`cannot run bubblewrap: ${e.message}`));
    child.once('exit', onExit);
    child.stderr!.on('data', (d: Buffer) => {
      if (err.length < 4096) err += d.toString();
    });
    (child.stdio[INFO_FD] as Readable).on('data', (d: Buffer) => {
      info += d.toString();
      const m = /"child-pid"\s*:\s*(\d+)/.exec(info);
      if (m && nsPid === null) {
        nsPid = Number(m[1]);
        done();
      }
    });
    (child.stdout as Readable).on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) {
        ready = true;
        done();
      }
    });
  });
}

function readSysctl(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** `<tool> --version`, first line. */
function versionOf(tool: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(tool, ['--version'], { timeout: 5000 }, (err, stdout) => resolve(err ? '(version unknown)' : stdout.trim().split('\n')[0]!));
  });
}

/** First executable named `name` in PATH (plus the sbin directories), or null. */
function which(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}
