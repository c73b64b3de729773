import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, lstatSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Backend, BackendSession, Enforcement, KillScope, Requirement, SessionLimits, SessionOptions, SpawnedProcess, SpawnSpec, TierHealth } from './backend.js';
import { bwrapArgs, type HostProbe, type PathKind } from './bwrap-args.js';
import { fifoDirPrefix } from './fifo-pool.js';
import { HostSession, type HostBackend, type Launch } from './host.js';
import { parentOf } from './process-table.js';
import { shellQuote } from './shell-quote.js';
import { sleep } from './signals.js';

const INFO_FD = 3;
const START_TIMEOUT_MS = 10_000;
const TMP_BYTES = 1024 * 1024 * 1024;
/** Variables a sandboxed shell gets from the daemon's environment; the rest (credentials included) stay outside. */
const PASSED_VARS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TERM'];

export interface SandboxSettings {
  /** Paths hidden in every sandbox besides the home secret stores (env file, logs, runtime directory, sandbox_hide). */
  hide: string[];
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
 * commands. Commands enter the sandbox's namespaces with nsenter and lose
 * every capability with setpriv before the shell runs; they are started like
 * host commands (same cgroups, rlimits, tags, pipes, PTY), so everything the
 * host tier does for trees, limits and output holds here too.
 */
export class SandboxBackend implements Backend {
  readonly name = 'sandbox' as const;
  /** /tmp and /run are the sandbox's own: paths are checked inside, by the shell. */
  readonly hostPaths = false;
  readonly defaultShell = undefined;
  readonly tools: { bwrap: string | null; nsenter: string | null; setpriv: string | null; env: string | null };

  /** Private directory (named like the FIFO directories, so crash recovery removes it) holding the empty file. */
  private readonly dir: string;
  private readonly emptyFile: string;
  /** Sandboxes not yet killed. */
  readonly live = new Set<{ kill(): Promise<void> }>();

  constructor(
    readonly host: HostBackend,
    private readonly settings: SandboxSettings,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), fifoDirPrefix(host.instanceId)));
    this.emptyFile = join(this.dir, 'empty');
    writeFileSync(this.emptyFile, '', { mode: 0o444 });
    this.tools = { bwrap: which('bwrap'), nsenter: which('nsenter'), setpriv: which('setpriv'), env: which('env') };
  }

  async healthCheck(): Promise<TierHealth> {
    const missing = Object.entries(this.tools).filter(([, p]) => p === null).map(([n]) => n);
    if (process.platform !== 'linux') return { available: false, isolated: true, detail: 'bubblewrap sandboxes need Linux' };
    if (missing.length > 0) {
      return { available: false, isolated: true, detail: `${missing.join(', ')} not found in PATH: apt-get install bubblewrap util-linux coreutils (or your distribution's packages)` };
    }
    let session: SandboxSession | null = null;
    try {
      session = await SandboxSession.start(this, { sessionTag: 'health', limits: {}, workspace: '/tmp', network: false, image: undefined });
      const status = await session.run(['/bin/sh', '-c', 'exit 0']);
      if (status !== 0) return { available: false, isolated: true, detail: `a command in a fresh sandbox exited ${status}` };
      return { available: true, isolated: true, detail: `bubblewrap ${this.tools.bwrap}: own pid/ipc/uts/net namespaces, read-only system, private /tmp, no capabilities` };
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
      { need: 'env with -C (coreutils 8.28+)', present: t.env !== null, found: t.env ?? 'missing: apt-get install coreutils' },
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
    return { ...host, detail: `${host.detail}; inside bubblewrap namespaces` };
  }

  async createSession(opts: SessionOptions): Promise<BackendSession> {
    return SandboxSession.start(this, opts);
  }

  baseEnv(runtimeEnv: ReadonlyMap<string, string>): Map<string, string> {
    const env = new Map<string, string>();
    for (const [k, v] of runtimeEnv) if (PASSED_VARS.includes(k) || k.startsWith('LC_')) env.set(k, v);
    return env;
  }

  /** The host tier reaps every instance's cgroups and tagged processes; sandboxes die with their daemon (--die-with-parent). */
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

  /** The whole bwrap command line of a new sandbox. */
  argv(opts: SessionOptions): string[] {
    const args = bwrapArgs(
      {
        workspace: opts.workspace,
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
  ) {
    super(backend, tag, limits);
  }

  /** Start the sandbox and wait until its mounts are in place. */
  static async start(sandbox: SandboxBackend, opts: SessionOptions): Promise<SandboxSession> {
    if (opts.workspace === '/') throw new Error("workspace '/' would make the whole filesystem writable; pass a project directory as workspace");
    const child = spawn(sandbox.tools.bwrap!, sandbox.argv(opts), {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    try {
      const nsPid = await waitReady(child);
      const session = new SandboxSession(sandbox.host, opts.sessionTag, opts.limits, sandbox, child, nsPid, opts.network);
      sandbox.live.add(session);
      return session;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  protected override launch(spec: SpawnSpec): Launch {
    // The working directory is entered inside the sandbox (it may be the sandbox's own /tmp), by
    // `env -C`, which leaves no OLDPWD behind to become session state the way a `cd` would.
    const argv = spec.program.kind === 'shell' ? [spec.program.shell, '-c', spec.program.script] : spec.program.argv;
    return { file: '/bin/sh', args: ['-c', this.entry(), 'sh', this.sandbox.tools.env!, '-C', spec.cwd, '--', ...argv], cwd: '/' };
  }

  /** Host-side prologue (cgroups, rlimits), then into the namespaces without capabilities. */
  private entry(): string {
    const { nsenter, setpriv } = this.sandbox.tools;
    const ns = ['-m', '-p', '-i', '-u', ...(this.network ? [] : ['-n']), ...(process.getuid?.() === 0 ? [] : ['-U', '--preserve-credentials'])];
    const enter =
      `exec ${shellQuote(nsenter!)} -t ${this.nsPid} ${ns.join(' ')} -r -w -- ` +
      `${shellQuote(setpriv!)} --bounding-set=-all --inh-caps=-all --no-new-privs -- "$@"`;
    return this.prologue ? `${this.prologue}\n${enter}` : enter;
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
    return { sandbox_pid: String(this.nsPid), network: this.network ? 'host' : 'none' };
  }

  /** Run argv in the sandbox (no pipes, no tag): the health check. Resolves with the exit code. */
  async run(argv: string[]): Promise<number | null> {
    const l = this.launch({ program: { kind: 'argv', argv }, env: {}, cwd: '/', stdin: 'ignore', stateFd: false, commandTag: 'health' });
    const child = spawn(l.file, l.args, { cwd: l.cwd, stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolve(code));
    });
  }

  override async destroy(graceMs: number, pgids: number[]): Promise<number> {
    const killed = await super.destroy(graceMs, pgids);
    await this.kill();
    return killed;
  }

  /**
   * Kill the sandbox: its pid 1 first (the kernel then kills every process in
   * its pid namespace), then bubblewrap's monitor. Killing the monitor alone
   * relies on pid 1's parent-death signal; this does not.
   */
  async kill(): Promise<void> {
    this.sandbox.live.delete(this);
    if (this.holder.exitCode !== null || this.holder.signalCode !== null) return;
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
