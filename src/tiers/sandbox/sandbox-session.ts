import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { Argv, KillScope, SessionOptions, SessionUsage, SpawnedProcess, SpawnSpec, TierSession } from '../tier.js';
import type { TierFiles } from '../tier-files.js';
import { LocalProcesses, type Launch } from '../host/local-processes.js';
import { TAG_VAR } from '../shared/process-table.js';
import type { SeccompArch } from '../shared/seccomp/index.js';
import { nativeSpawner } from '../shared/native-spawn.js';
import { settledWithin } from '../shared/timers.js';
import { envChannel, envPipe } from './env-channel.js';
import type { EntryForker } from './entry-forker.js';
import { sandboxEntry, type NsName } from './sandbox-entry.js';
import { ENTRY_PATH, Sandbox, type SandboxStarter } from './sandbox.js';
import { START_TIMEOUT_MS } from './wait-ready.js';

/** The command's environment reaches the launcher on this descriptor (seccomp/launcher.ts). */
export const ENV_FD = 4;

/** What a sandbox session needs of its tier. */
export interface SandboxParts extends SandboxStarter {
  tools: { bwrap: string; perl: string };
  filters: { network: Buffer; isolated: Buffer };
  /** The ABI the filters and the entry's syscall numbers are for. */
  arch: SeccompArch;
  /** Forks pipe commands' entries from one resident Perl (entry-forker.ts); null: a fresh Perl each. */
  forker: EntryForker | null;
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
    private readonly sandbox: Sandbox,
  ) {}

  /** Start a sandbox for the session and wait until its mounts are in place. */
  static async start(parts: SandboxParts, opts: SessionOptions): Promise<SandboxSession> {
    return SandboxSession.adopt(parts, await Sandbox.start(parts, { workspace: opts.workspace, network: opts.network }), opts);
  }

  /** The session of a started sandbox (a fresh one, or one from the warm pool): its processes, cgroups and limits. */
  static adopt(parts: SandboxParts, sandbox: Sandbox, opts: SessionOptions): SandboxSession {
    return new SandboxSession(parts, new LocalProcesses(parts.machine, opts.sessionTag, opts.limits), sandbox);
  }

  /**
   * The command's entry (sandbox-entry.ts): one Perl process (forked by the
   * entry forker for a pipe command, else spawned with a clean environment)
   * that joins the session's cgroups, sets its rlimits,
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
    const network = this.sandbox.shape.network;
    const namespaces: NsName[] = [...(process.getuid?.() === 0 ? [] : (['user'] as const)), 'ipc', 'uts', ...(network ? [] : (['net'] as const)), 'pid', 'mnt'];
    const entry = sandboxEntry({
      perl,
      arch: this.parts.arch,
      nsPid: this.sandbox.nsPid,
      namespaces,
      runAs: this.sandbox.runAs,
      cgroupProcs: this.procs.cgroupProcs,
      rlimits: this.procs.rlimits.map((r) => ({ resource: r.resource, value: r.value, name: `ulimit ${r.flags[0]} ${r.ulimit}` })),
      env: 'fd' in channel ? { fd: ENV_FD } : { path: channel.path },
      filter: network ? this.parts.filters.network : this.parts.filters.isolated,
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
      ...(native && this.parts.forker ? { spawner: this.parts.forker.spawn } : {}),
    };
  }

  async spawn(spec: SpawnSpec): Promise<SpawnedProcess> {
    const proc = await this.procs.spawn(this.launch(spec), spec);
    // A launcher ends with its command and is never signalled; a command the forker started in the sandbox's PID namespace has none.
    if (proc.direct) return proc;
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
    const { nsPid, runAs, shape } = this.sandbox;
    const d: Record<string, string> = { sandbox_pid: String(nsPid), network: shape.network ? 'host' : 'none' };
    if (runAs) d.user = `${runAs.uid}:${runAs.gid}`;
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
    return this.sandbox.workspace.open(opts.opTimeoutMs);
  }

  async destroy(graceMs: number, pgids: number[]): Promise<number> {
    await this.sandbox.workspace.close();
    const killed = await this.procs.destroy(graceMs, pgids);
    await this.sandbox.kill();
    return killed;
  }
}
