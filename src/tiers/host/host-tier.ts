import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, readdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { FifoPool, removeFifoDirs } from '../shared/fifo-pool.js';
import { GhostMounts, ghostInstances, reapGhosts } from '../shared/ghost-mounts.js';
import { drainPipeNow, streamFd } from './pipe-drain.js';
import { spawnPty } from './pty-spawn.js';
import type {
  Backend,
  BackendSession,
  Enforcement,
  ExitStatus,
  Requirement,
  KillScope,
  SessionLimits,
  SessionOptions,
  SessionUsage,
  SpawnedProcess,
  SpawnSpec,
  TierHealth,
} from '../tier.js';
import {
  cgroupKill,
  cgroupPids,
  instanceDir,
  layoutRoots,
  readCgroupNumber,
  readCgroupStat,
  removeCgroup,
  setupCgroups,
  type CgroupLayout,
  type Controller,
} from './cgroups.js';
import { pidOfInstance } from '../shared/instance-id.js';
import { daemonIsDead, processUsage, scanProcesses, selectTree, TAG_VAR } from '../shared/process-table.js';
import { shellQuote } from '../shared/shell-quote.js';
import { signalAll, sleep, terminateTree } from '../shared/signals.js';
import { applyLimits, rlimitLines } from './limits.js';

/** Spawn failure with the errno code, mapped to SPAWN_FAILED above. */
export class SpawnError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
    this.name = 'SpawnError';
  }
}

const POLL_MS = 10;
/** How soon after a session.destroy its escaped processes are looked for (one scan for all sessions destroyed meanwhile). */
const SWEEP_MS = 200;

/** Plain host processes: no isolation beyond env, cwd, process tree and limits. */
export class HostBackend implements Backend {
  readonly name = 'host' as const;
  readonly isolated = false;
  readonly images = false;
  readonly hostPaths = true;
  readonly defaultShell = undefined;
  readonly layout: CgroupLayout | null;
  /** Real pipes for stdio; null where mkfifo is missing (children then get socketpairs). */
  readonly fifos: FifoPool | null;
  /** Mount points over absent protected workspace paths, shared by the isolated tiers (ghost-mounts.ts). */
  readonly ghosts: GhostMounts;
  /** Tags of destroyed sessions whose escaped processes the next sweep kills. */
  private readonly sweepPending = new Set<string>();
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly instanceId: string,
    cgroups: 'auto' | 'off',
  ) {
    this.layout = cgroups === 'auto' ? setupCgroups(instanceId) : null;
    this.ghosts = new GhostMounts(instanceId);
    let fifos: FifoPool | null = null;
    try {
      fifos = new FifoPool(instanceId);
    } catch {
      /* no mkfifo: stdio falls back to Node's socketpairs (/dev/stdout cannot be reopened then) */
    }
    this.fifos = fifos;
  }

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
      { need: 'mkfifo (real pipes for stdio)', present: this.fifos !== null, found: this.fifos ? 'yes' : 'missing: children get socketpairs and cannot reopen /dev/stdout; install coreutils', optional: true },
      {
        need: 'a writable cgroup hierarchy (kernel-tracked trees, memory/pids/cpu limits)',
        present: this.layout !== null,
        found: this.enforcement().detail,
        optional: true,
      },
    ];
  }

  enforcement(): Enforcement {
    if (!this.layout) {
      return {
        process_tracking: 'proc-scan',
        limits: 'rlimits-only',
        detail: 'no writable cgroup hierarchy (run as root or delegate a cgroup): processes are found by an inherited tag and the process table; limits are per-process rlimits',
      };
    }
    const ctl = Object.entries(this.layout.controllers)
      .map(([c, v]) => `${c}:v${v.version}`)
      .join(', ');
    return {
      process_tracking: `cgroup-v${this.layout.tracking.version}`,
      limits: ctl ? this.layout.kind : 'rlimits-only',
      detail: `tracking in ${this.layout.tracking.root} (v${this.layout.tracking.version}${this.layout.tracking.canKill ? ', cgroup.kill' : ''}); limit controllers: ${ctl || 'none'}`,
    };
  }

  async createSession(opts: SessionOptions): Promise<BackendSession> {
    return new HostSession(this, opts.sessionTag, opts.limits);
  }

  baseEnv(runtimeEnv: ReadonlyMap<string, string>): Map<string, string> {
    return new Map(runtimeEnv);
  }

  async reapInstance(instanceId: string): Promise<number> {
    removeFifoDirs(instanceId);
    reapGhosts(instanceId);
    const prefix = `${instanceId}:`;
    let killed = 0;
    if (this.layout) {
      for (const root of layoutRoots(this.layout)) {
        const dir = instanceDir(root, instanceId);
        const pids = cgroupPids(dir);
        killed += signalAll(pids, 'SIGKILL');
        if (root === this.layout.tracking.root && this.layout.tracking.canKill) cgroupKill(dir);
      }
    }
    for (let i = 0; i < 50; i++) {
      const pids = selectTree(scanProcesses(), (t) => t.startsWith(prefix));
      if (pids.length === 0) break;
      killed += signalAll(pids, 'SIGKILL');
      await sleep(POLL_MS);
    }
    if (this.layout) {
      for (const root of layoutRoots(this.layout)) {
        const dir = instanceDir(root, instanceId);
        for (let i = 0; i < 100 && !removeCgroup(dir); i++) await sleep(POLL_MS);
      }
    }
    return killed;
  }

  /**
   * Instances other than this one that left something behind (cgroups or
   * tagged processes) and whose daemon is dead: crash leftovers on any socket.
   */
  async deadInstances(): Promise<string[]> {
    const ids = new Set<string>();
    if (this.layout) {
      for (const root of layoutRoots(this.layout)) {
        try {
          for (const e of readdirSync(join(root, 'trl'), { withFileTypes: true })) if (e.isDirectory()) ids.add(e.name);
        } catch {
          /* no trl directory in this hierarchy */
        }
      }
    }
    for (const p of scanProcesses()) {
      const id = p.tag?.split(':')[0];
      if (id) ids.add(id);
    }
    for (const id of ghostInstances()) ids.add(id);
    ids.delete(this.instanceId);
    return [...ids].filter((id) => {
      const pid = pidOfInstance(id);
      return pid !== null && daemonIsDead(pid);
    });
  }

  /**
   * Kill, soon and in one pass over the process table for all of them, what
   * destroyed sessions left outside their cgroups. Kept off session.destroy's
   * own path: a scan of every process's environment costs milliseconds, and
   * every ephemeral command destroys a session.
   */
  sweepLater(tagPrefix: string): void {
    this.sweepPending.add(tagPrefix);
    if (this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  private sweep(): number {
    this.sweepTimer = null;
    const prefixes = [...this.sweepPending];
    this.sweepPending.clear();
    if (prefixes.length === 0) return 0;
    return signalAll(selectTree(scanProcesses(), (t) => prefixes.some((p) => t.startsWith(p))), 'SIGKILL');
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweep();
    this.fifos?.close();
    this.ghosts.close();
    if (!this.layout) return;
    for (const root of layoutRoots(this.layout)) removeCgroup(instanceDir(root, this.instanceId));
  }
}

/** How a session's processes are started: the program itself (host), or wrapped to enter a sandbox. */
export interface Launch {
  file: string;
  args: string[];
  /** Host directory the spawned process starts in. */
  cwd: string;
  /** Environment of the spawned process. */
  env: Record<string, string>;
  /** Release what the launch holds (called once the process has exited, or failed to start). */
  release?: () => void;
}

export class HostSession implements BackendSession {
  /** This session's cgroup in each hierarchy it uses (tracking first). */
  private readonly dirs: string[] = [];
  private readonly trackingDir: string | null = null;
  /** Shell lines run before the command: join the session cgroups, set rlimits. */
  protected readonly prologue: string;

  constructor(
    protected readonly backend: HostBackend,
    protected readonly tag: string,
    limits: SessionLimits,
  ) {
    const layout = backend.layout;
    if (layout) {
      // Every cgroup joined costs the spawning shell a migration (a write that can wait for an RCU
      // grace period): join the tracking hierarchy always, limit hierarchies only for limits set.
      const roots = new Set([layout.tracking.root]);
      const limited: Record<Controller, number | undefined> = { memory: limits.memory_bytes, pids: limits.pids, cpu: limits.cpu_percent };
      for (const [c, v] of Object.entries(limited) as [Controller, number | undefined][]) {
        const ctl = layout.controllers[c];
        if (v !== undefined && ctl) roots.add(ctl.root);
      }
      for (const root of roots) {
        const dir = join(instanceDir(root, backend.instanceId), `s-${tag}`);
        mkdirSync(dir, { recursive: true });
        this.dirs.push(dir);
      }
      this.trackingDir = this.dirs[0]!;
      applyLimits(layout, backend.instanceId, tag, limits);
    }
    this.prologue = prologueFor(this.dirs, rlimitLines(limits, layout));
  }

  protected tagOf(commandTag: string | null): string {
    return `${this.backend.instanceId}:${this.tag}:${commandTag ?? ''}`;
  }

  /** The program to start for `spec`, with the prologue (cgroups, rlimits) run first. */
  protected launch(spec: SpawnSpec): Launch {
    const pre = this.prologue;
    const env = { ...spec.env, [TAG_VAR]: this.tagOf(spec.commandTag) };
    if (spec.program.kind === 'shell') {
      return { file: spec.program.shell, args: ['-c', pre ? `${pre}\n${spec.program.script}` : spec.program.script], cwd: spec.cwd, env };
    }
    if (pre) return { file: '/bin/sh', args: ['-c', `${pre}\nexec "$@"`, spec.program.argv[0]!, ...spec.program.argv], cwd: spec.cwd, env };
    return { file: spec.program.argv[0]!, args: spec.program.argv.slice(1), cwd: spec.cwd, env };
  }

  describe(): Record<string, string> {
    return {};
  }

  async spawn(spec: SpawnSpec): Promise<SpawnedProcess> {
    const launch = this.launch(spec);
    try {
      const proc = await this.spawnLaunch(launch, spec);
      if (launch.release) void proc.exited.then(launch.release);
      return proc;
    } catch (err) {
      launch.release?.();
      throw err;
    }
  }

  private async spawnLaunch({ file, args, cwd, env }: Launch, spec: SpawnSpec): Promise<SpawnedProcess> {
    if (spec.pty) return spawnPty(file, args, { cwd, env, cols: spec.pty.cols, rows: spec.pty.rows }).catch((e: NodeJS.ErrnoException) => {
      throw new SpawnError(e.message, e.code);
    });
    const fifos = this.backend.fifos;
    const out = fifos?.forOutput() ?? null;
    const err = fifos?.forOutput() ?? null;
    const st = fifos && spec.stateFd ? fifos.forOutput() : null;
    const inp = fifos && spec.stdin === 'pipe' ? fifos.forInput() : null;
    let child;
    try {
      child = spawn(file, args, {
        cwd,
        env,
        stdio: [inp ? inp.read : spec.stdin, out ? out.write : 'pipe', err ? err.write : 'pipe', spec.stateFd ? (st ? st.write : 'pipe') : 'ignore'],
        detached: true,
      });
    } catch (e) {
      for (const fd of [out?.read, err?.read, st?.read, inp?.write]) if (fd !== undefined) closeSync(fd);
      throw new SpawnError((e as Error).message, (e as NodeJS.ErrnoException).code);
    } finally {
      // The child has its own copies now; ours would keep the pipes from reaching EOF.
      for (const fd of [out?.write, err?.write, st?.write, inp?.read]) if (fd !== undefined) closeSync(fd);
    }
    const wrap = (fd: number, readable: boolean) => new Socket({ fd, readable, writable: !readable });
    const stdout: Readable = out ? wrap(out.read, true) : child.stdout!;
    const stderr: Readable = err ? wrap(err.read, true) : child.stderr!;
    const state: Readable | null = st ? wrap(st.read, true) : spec.stateFd ? (child.stdio[3] as Readable) : null;
    const stdin: Writable | null = inp ? wrap(inp.write, false) : child.stdin;
    const exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        // What the process wrote before exiting is in the pipes now: take it before anyone is told it ended.
        drainPipeNow(stdout, out ? out.read : streamFd(stdout));
        drainPipeNow(stderr, err ? err.read : streamFd(stderr));
        drainPipeNow(state, st ? st.read : streamFd(state));
        resolve({ code, signal });
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (e: NodeJS.ErrnoException) => reject(new SpawnError(e.message, e.code)));
      });
    } catch (e) {
      for (const s of [stdout, stderr, state, stdin]) (s as Socket | null)?.destroy();
      throw e;
    }
    return {
      pid: child.pid!,
      stdin,
      stdout,
      stderr,
      state,
      exited,
    };
  }

  async processes(scope: KillScope): Promise<number[]> {
    return this.processesNow(scope);
  }

  protected processesNow(scope: KillScope): number[] {
    if (this.trackingDir && scope.commandTag === null) {
      const pids = new Set(cgroupPids(this.trackingDir));
      // A leader killed before its prologue joined the cgroup is still found through its group.
      if (scope.pgids.some((g) => !pids.has(g))) for (const p of selectTree(scanProcesses(), () => false, scope.pgids)) pids.add(p);
      return [...pids];
    }
    const tag = this.tagOf(scope.commandTag);
    const matches = scope.commandTag === null ? (t: string) => t.startsWith(tag) : (t: string) => t === tag;
    return selectTree(scanProcesses(), matches, scope.pgids);
  }

  async signal(scope: KillScope, signal: NodeJS.Signals): Promise<number> {
    return signalAll(this.processesNow(scope), signal);
  }

  async terminate(scope: KillScope, graceMs: number): Promise<number> {
    const cgroupKills = this.trackingDir !== null && scope.commandTag === null && this.backend.layout?.tracking.canKill === true;
    return terminateTree(() => this.processesNow(scope), graceMs, (seen) => {
      if (!cgroupKills || !this.trackingDir) return;
      for (const p of cgroupPids(this.trackingDir)) seen.add(p);
      cgroupKill(this.trackingDir);
    });
  }

  async usage(): Promise<SessionUsage> {
    const pids = this.processesNow({ commandTag: null, pgids: [] });
    const layout = this.backend.layout;
    const fromProcs = processUsage(pids);
    const mem = layout?.controllers.memory;
    const memDir = mem && this.dirFor(mem.root);
    const memory = memDir ? readCgroupNumber(memDir, mem.version === 2 ? 'memory.current' : 'memory.usage_in_bytes') : null;
    const cpu = layout?.controllers.cpu;
    const cpuDir = cpu?.version === 2 ? this.dirFor(cpu.root) : null;
    const usec = cpuDir ? readCgroupStat(cpuDir, 'cpu.stat', 'usage_usec') : null;
    return {
      memory_bytes: memory ?? fromProcs.rssBytes,
      pids: pids.length,
      cpu_s: usec !== null ? usec / 1e6 : fromProcs.cpuS,
    };
  }

  async oomKills(): Promise<number> {
    const mem = this.backend.layout?.controllers.memory;
    const dir = mem && this.dirFor(mem.root);
    if (!dir) return 0;
    return readCgroupStat(dir, mem.version === 2 ? 'memory.events' : 'memory.oom_control', 'oom_kill') ?? 0;
  }

  /** This session's cgroup under `root`, if it joined that hierarchy. */
  private dirFor(root: string): string | null {
    const dir = join(instanceDir(root, this.backend.instanceId), `s-${this.tag}`);
    return this.dirs.includes(dir) ? dir : null;
  }

  async destroy(graceMs: number, pgids: number[]): Promise<number> {
    const killed = await this.terminate({ commandTag: null, pgids }, graceMs);
    // A process may have moved itself out of the session's cgroup (a host-tier command can write
    // another cgroup.procs): it still carries the session's tag, and the sweep finds it.
    if (this.trackingDir) this.backend.sweepLater(this.tagOf(null));
    for (const dir of this.dirs) {
      for (let i = 0; i < 100 && !removeCgroup(dir); i++) await sleep(POLL_MS);
    }
    return killed;
  }
}

/**
 * Shell lines that move the process into the session's cgroups and set its
 * rlimits before anything else runs, so all it forks is tracked. (A cgroup per
 * command would let the kernel scope a command kill too, but creating and
 * removing one per command costs more than the command itself; a command's
 * tree is found by its tag instead, and the session cgroup still catches
 * everything at destroy.)
 */
function prologueFor(cgroupDirs: string[], rlimits: string[]): string {
  const joins = cgroupDirs.map(
    (d) => `echo $$ 2>/dev/null >${shellQuote(d + '/cgroup.procs')} || { echo 'trl: cannot join the session cgroup' >&2; exit 125; }`,
  );
  return [...joins, ...rlimits].join('\n');
}
