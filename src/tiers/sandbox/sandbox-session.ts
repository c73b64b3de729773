import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { Argv, KillScope, SessionOptions, SessionUsage, SpawnedProcess, SpawnSpec, TierSession } from '../tier.js';
import type { TierFiles } from '../tier-files.js';
import type { PinnedWorkspace } from '../shared/files/pinned-workspace.js';
import { LocalProcesses, type Launch } from '../host/local-processes.js';
import type { LocalMachine } from '../host/local-machine.js';
import { parentOf, TAG_VAR } from '../shared/process-table.js';
import { isolatedUser, type RunAs } from '../shared/run-as.js';
import { releaseTerminal, seccompLauncher } from '../shared/seccomp/index.js';
import { shellQuote } from '../shared/shell-quote.js';
import { settledWithin } from '../shared/timers.js';
import { guardWorkspace } from '../shared/workspace-guard.js';
import { openLayout, type BoundLayout } from './bound-layout.js';
import { envChannel } from './env-channel.js';
import { pinSandboxWorkspace } from './files.js';
import { START_TIMEOUT_MS, waitReady } from './wait-ready.js';

/** The command's environment reaches the launcher on this descriptor (seccomp/launcher.ts). */
const ENV_FD = 4;
/** The whole environment of the host-side processes that enter a sandbox: nothing of the command's. */
export const ENTRY_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** What a sandbox session needs of its tier. */
export interface SandboxParts {
  machine: LocalMachine;
  tools: { bwrap: string; nsenter: string; setpriv: string; perl: string };
  filters: { network: Buffer; isolated: Buffer };
  /** UID[:GID] of --isolated-user. */
  user: string | undefined;
  /** The bwrap argv of a sandbox (up to the program), for these options and bound paths. */
  argv(opts: SessionOptions, bound: BoundLayout): string[];
  /** Sandboxes not yet killed (the tier kills them at close). */
  live: Set<{ kill(): Promise<void> }>;
}

/**
 * One bubblewrap sandbox, alive as long as its session. Its processes are
 * local ones (LocalProcesses: cgroups, rlimits, pipes, PTY, kills, usage);
 * only how each starts differs, with its launcher (the nsenter that forks
 * the command into the sandbox and waits for it) never signalled: a kill
 * would report nsenter's death instead of the command's, and orphan it.
 */
export class SandboxSession implements TierSession {
  private constructor(
    private readonly parts: SandboxParts,
    private readonly procs: LocalProcesses,
    private readonly holder: ChildProcess,
    /** Host pid of the sandbox's pid 1: its namespaces are the ones commands enter. */
    private readonly nsPid: number,
    private readonly network: boolean,
    private readonly runAs: RunAs | null,
    private readonly ghosts: string[],
    private readonly workspace: PinnedWorkspace,
  ) {}

  /** Start the sandbox and wait until its mounts are in place. */
  static async start(parts: SandboxParts, opts: SessionOptions): Promise<SandboxSession> {
    if (opts.workspace === '/') throw new Error("workspace '/' would make the whole filesystem writable; pass a project directory as workspace");
    const runAs = isolatedUser(parts.user, opts.workspace);
    const guard = guardWorkspace(opts.workspace, parts.machine.ghosts);
    const { bound, fds } = openLayout(opts.workspace, guard);
    const ghosts = parts.machine.ghosts;
    ghosts.acquire(guard.ghosts);
    let child: ChildProcess;
    try {
      child = spawn(parts.tools.bwrap, parts.argv(opts, bound), {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe', ...fds],
        cwd: '/',
        env: { PATH: ENTRY_PATH },
      });
    } catch (err) {
      ghosts.release(guard.ghosts);
      throw err;
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    try {
      const nsPid = await waitReady(child);
      // Before any command runs: nothing inside can have moved the way to it yet.
      const workspace = pinSandboxWorkspace(nsPid, opts.workspace, runAs);
      const procs = new LocalProcesses(parts.machine, opts.sessionTag, opts.limits);
      const session = new SandboxSession(parts, procs, child, nsPid, opts.network, runAs, guard.ghosts, workspace);
      parts.live.add(session);
      return session;
    } catch (err) {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
      ghosts.release(guard.ghosts);
      throw err;
    }
  }

  /**
   * Host side: the prologue (cgroups, rlimits), then the command's
   * environment opened from its pipe as fd 4, then into the namespaces
   * without capabilities (as the session's user), all with a clean
   * environment. Inside: the launcher.
   */
  private launch(spec: SpawnSpec): Launch {
    const { nsenter, setpriv, perl } = this.parts.tools;
    const argv = spec.program.kind === 'shell' ? [spec.program.shell, '-c', spec.program.script] : spec.program.argv;
    const tag = this.procs.tagOf(spec.commandTag);
    const channel = envChannel(this.parts.machine.fifos, { ...spec.env, [TAG_VAR]: tag });
    const ns = ['-m', '-p', '-i', '-u', ...(this.network ? [] : ['-n']), ...(process.getuid?.() === 0 ? [] : ['-U', '--preserve-credentials'])];
    const user = this.runAs ? [`--reuid=${this.runAs.uid}`, `--regid=${this.runAs.gid}`, '--clear-groups'] : [];
    // Under a terminal: the spawned leader gives the terminal up, the command's launcher takes it
    // inside the PID namespace (else job control and `tty` would find no terminal there).
    const release = spec.pty ? `${releaseTerminal(perl, []).map(shellQuote).join(' ')} ` : '';
    const entry =
      // Read-write: opening a pipe for reading alone waits for a writer, and the daemon's may be gone.
      `exec ${ENV_FD}<>"$1"; shift\n` +
      `exec ${release}${shellQuote(nsenter)} -t ${this.nsPid} ${ns.join(' ')} -r -w -- ` +
      `${shellQuote(setpriv)} ${user.join(' ')} --bounding-set=-all --inh-caps=-all --no-new-privs -- "$@"`;
    const filter = this.network ? this.parts.filters.network : this.parts.filters.isolated;
    const launcher = seccompLauncher({ filter, cwd: spec.cwd, argv, perl, envFd: ENV_FD, takeTerminal: spec.pty !== undefined });
    const prologue = this.procs.prologue;
    return {
      file: '/bin/sh',
      args: ['-c', prologue ? `${prologue}\n${entry}` : entry, 'sh', channel.path, ...launcher],
      cwd: '/',
      env: { PATH: ENTRY_PATH, [TAG_VAR]: tag },
      release: channel.release,
    };
  }

  async spawn(spec: SpawnSpec): Promise<SpawnedProcess> {
    const proc = await this.procs.spawn(this.launch(spec), spec);
    this.procs.excluded.add(proc.pid);
    void proc.exited.then(() => this.procs.excluded.delete(proc.pid));
    return proc;
  }

  async processes(scope: KillScope): Promise<number[]> {
    return this.procs.processesNow(scope);
  }

  async signal(scope: KillScope, signal: NodeJS.Signals): Promise<number> {
    return this.procs.signal(scope, signal);
  }

  terminate(scope: KillScope, graceMs: number): Promise<number> {
    return this.procs.terminate(scope, graceMs);
  }

  async usage(): Promise<SessionUsage> {
    return this.procs.usage();
  }

  async oomKills(): Promise<number> {
    return this.procs.oomKills();
  }

  describe(): Record<string, string> {
    const d: Record<string, string> = { sandbox_pid: String(this.nsPid), network: this.network ? 'host' : 'none' };
    if (this.runAs) d.user = `${this.runAs.uid}:${this.runAs.gid}`;
    return d;
  }

  /** Run argv in the sandbox (no pipes, no tag): the health check. Resolves with the exit code. */
  async run(argv: Argv): Promise<number | null> {
    const l = this.launch({ program: { kind: 'argv', argv }, env: { PATH: ENTRY_PATH }, cwd: '/', stdin: 'ignore', stateFd: false, commandTag: 'health' });
    try {
      const child = spawn(l.file, l.args, { cwd: l.cwd, stdio: 'ignore', env: l.env });
      const exited = new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code) => resolve(code));
      });
      // A start-up must not hang on a sandbox that never answers.
      if (!(await settledWithin(exited, START_TIMEOUT_MS))) {
        child.kill('SIGKILL');
        throw new Error(`a command in a fresh sandbox did not finish within ${START_TIMEOUT_MS / 1000} s`);
      }
      return await exited;
    } finally {
      l.release?.();
    }
  }

  files(opts: { opTimeoutMs: number }): TierFiles {
    return this.workspace.open(opts.opTimeoutMs);
  }

  async destroy(graceMs: number, pgids: number[]): Promise<number> {
    await this.workspace.close();
    const killed = await this.procs.destroy(graceMs, pgids);
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
    if (!this.parts.live.delete(this)) return;
    await this.workspace.close();
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
      await settledWithin(gone, 2000);
    }
    this.parts.machine.ghosts.release(this.ghosts);
  }
}
