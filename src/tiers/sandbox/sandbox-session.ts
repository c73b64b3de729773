import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { Argv, KillScope, SessionOptions, SessionUsage, SpawnedProcess, SpawnSpec, TierSession } from '../tier.js';
import type { TierFiles } from '../tier-files.js';
import type { PinnedWorkspace } from '../shared/files/pinned-workspace.js';
import { LocalProcesses, type Launch } from '../host/local-processes.js';
import type { LocalMachine } from '../host/local-machine.js';
import { parentOf, TAG_VAR } from '../shared/process-table.js';
import { isolatedUser, type RunAs } from '../shared/run-as.js';
import type { SeccompArch } from '../shared/seccomp/index.js';
import { nativeSpawner } from '../shared/native-spawn.js';
import { settledWithin } from '../shared/timers.js';
import { guardWorkspace } from '../shared/workspace-guard.js';
import { openLayout, type BoundLayout } from './bound-layout.js';
import { envChannel, envPipe } from './env-channel.js';
import { sandboxEntry, type NsName } from './sandbox-entry.js';
import { pinSandboxWorkspace } from './files.js';
import { START_TIMEOUT_MS, waitReady } from './wait-ready.js';

/** The command's environment reaches the launcher on this descriptor (seccomp/launcher.ts). */
const ENV_FD = 4;
/** The whole environment of the host-side processes that enter a sandbox: nothing of the command's. */
export const ENTRY_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** What a sandbox session needs of its tier. */
export interface SandboxParts {
  machine: LocalMachine;
  tools: { bwrap: string; perl: string };
  filters: { network: Buffer; isolated: Buffer };
  /** The ABI the filters and the entry's syscall numbers are for. */
  arch: SeccompArch;
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
 * only how each starts differs, with its launcher (the entry that forks the
 * command into the sandbox and waits for it) never signalled: a kill would
 * report the launcher's death instead of the command's, and orphan it.
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
   * The command's entry (sandbox-entry.ts): one Perl process, spawned with a
   * clean environment, that joins the session's cgroups, sets its rlimits,
   * enters the sandbox, drops every capability (as the session's user),
   * installs the seccomp filter and execs the command with its environment,
   * read from a pipe (fd 4, or a named pipe under a terminal, whose child
   * inherits no descriptor).
   */
  private launch(spec: SpawnSpec): Launch {
    const { perl } = this.parts.tools;
    const argv = spec.program.kind === 'shell' ? [spec.program.shell, '-c', spec.program.script] : spec.program.argv;
    const tag = this.procs.tagOf(spec.commandTag);
    const env = { ...spec.env, [TAG_VAR]: tag };
    const native = spec.pty ? null : nativeSpawner();
    const channel = native ? envPipe(native, env) : envChannel(this.parts.machine.fifos, env);
    const namespaces: NsName[] = [...(process.getuid?.() === 0 ? [] : (['user'] as const)), 'ipc', 'uts', ...(this.network ? [] : (['net'] as const)), 'pid', 'mnt'];
    const entry = sandboxEntry({
      perl,
      arch: this.parts.arch,
      nsPid: this.nsPid,
      namespaces,
      runAs: this.runAs,
      cgroupProcs: this.procs.cgroupProcs,
      rlimits: this.procs.rlimits.map((r) => ({ resource: r.resource, value: r.value, name: `ulimit ${r.flags[0]} ${r.ulimit}` })),
      env: 'fd' in channel ? { fd: ENV_FD } : { path: channel.path },
      filter: this.network ? this.parts.filters.network : this.parts.filters.isolated,
      cwd: spec.cwd,
      takeTerminal: spec.pty !== undefined,
      argv,
    });
    return {
      file: perl,
      args: entry.slice(1),
      cwd: '/',
      env: { PATH: ENTRY_PATH, [TAG_VAR]: tag },
      release: channel.release,
      ...('fd' in channel ? { extraFds: [channel.fd] } : {}),
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
      let child;
      try {
        child = spawn(l.file, l.args, { cwd: l.cwd, stdio: ['ignore', 'ignore', 'ignore', 'ignore', ...(l.extraFds ?? [])], env: l.env });
      } finally {
        for (const fd of l.extraFds ?? []) closeSync(fd);
      }
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
