import { spawn } from 'node:child_process';
import type { Enforcement, KillScope, Requirement, SessionOptions, SessionUsage, SpawnedProcess, SpawnSpec, Tier, TierHealth, TierSession } from '../tier.js';
import type { TierFiles } from '../tier-files.js';
import type { PinnedWorkspace } from '../shared/files/pinned-workspace.js';
import { TAG_VAR } from '../shared/process-table.js';
import { pinHostWorkspace } from './files.js';
import type { LocalMachine } from './local-machine.js';
import { LocalProcesses, type Launch } from './local-processes.js';

export class HostTier implements Tier {
  readonly name = 'host' as const;
  readonly isolated = false;
  readonly images = false;
  readonly hostPaths = true;
  readonly defaultShell = undefined;

  constructor(private readonly machine: LocalMachine) {}

  async healthCheck(): Promise<TierHealth> {
    const child = spawn('/bin/sh', ['-c', 'exit 0'], { stdio: 'ignore' });
    const ok = await new Promise<boolean>((resolve) => {
      child.once('error', () => resolve(false));
      child.once('exit', (code) => resolve(code === 0));
    });
    return ok
      ? { available: true, isolated: false, detail: 'host processes; no isolation beyond env, cwd, process tree and limits' }
      : { available: false, isolated: false, detail: 'cannot spawn /bin/sh: install a POSIX shell at /bin/sh' };
  }

  async requirements(): Promise<Requirement[]> {
    const sh = await this.healthCheck();
    return [
      { need: 'a POSIX shell at /bin/sh', present: sh.available, found: sh.available ? '/bin/sh' : sh.detail },
      {
        need: 'mkfifo (real pipes for stdio)',
        present: this.machine.fifos !== null,
        found: this.machine.fifos ? 'yes' : 'missing: children get socketpairs and cannot reopen /dev/stdout; install coreutils',
        optional: true,
      },
      {
        need: 'a writable cgroup hierarchy (kernel-tracked trees, memory/pids/cpu limits)',
        present: this.machine.layout !== null,
        found: this.enforcement().detail,
        optional: true,
      },
      ...this.machine.migrationRequirements(),
    ];
  }

  enforcement(): Enforcement {
    return this.machine.enforcement();
  }

  async createSession(opts: SessionOptions): Promise<TierSession> {
    const workspace = pinHostWorkspace(opts.workspace);
    return new HostSession(new LocalProcesses(this.machine, opts.sessionTag, opts.limits), workspace);
  }

  baseEnv(runtimeEnv: ReadonlyMap<string, string>): Map<string, string> {
    return new Map(runtimeEnv);
  }

  /** The local machine reaps every instance's processes (LocalMachine.reapInstance), whichever tier started them. */
  async deadInstances(): Promise<string[]> {
    return [];
  }

  async reapInstance(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    /* the local machine is closed by its owner, after every tier */
  }
}

/** A host session: its processes, started as they are, with the cgroup and rlimit prologue. */
class HostSession implements TierSession {
  constructor(
    private readonly procs: LocalProcesses,
    private readonly workspace: PinnedWorkspace,
  ) {}

  describe(): Record<string, string> {
    return {};
  }

  spawn(spec: SpawnSpec): Promise<SpawnedProcess> {
    return this.procs.spawn(plainLaunch(spec, this.procs.prologue, this.procs.tagOf(spec.commandTag)), spec);
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

  files(opts: { opTimeoutMs: number }): TierFiles {
    return this.workspace.open(opts.opTimeoutMs);
  }

  async destroy(graceMs: number, pgids: number[]): Promise<number> {
    await this.workspace.close();
    return this.procs.destroy(graceMs, pgids);
  }
}

/** The program of `spec` itself, with the prologue (cgroups, rlimits) run first by its shell (or a /bin/sh in front of an argv). */
export function plainLaunch(spec: SpawnSpec, prologue: string, tag: string): Launch {
  const env = { ...spec.env, [TAG_VAR]: tag };
  if (spec.program.kind === 'shell') {
    return { file: spec.program.shell, args: ['-c', prologue ? `${prologue}\n${spec.program.script}` : spec.program.script], cwd: spec.cwd, env };
  }
  const [file, ...args] = spec.program.argv;
  if (prologue) return { file: '/bin/sh', args: ['-c', `${prologue}\nexec "$@"`, file, ...spec.program.argv], cwd: spec.cwd, env };
  return { file, args, cwd: spec.cwd, env };
}
