import { spawn } from 'node:child_process';
import { closeSync, mkdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ExitStatus, KillScope, SessionLimits, SessionUsage, SpawnedProcess, SpawnSpec } from '../tier.js';
import { processUsage, scanProcesses, scanTree, selectTree, type TreeScan } from '../shared/process-table.js';
import { shellQuote } from '../shared/shell-quote.js';
import { signalTree, terminateTree } from '../shared/signals.js';
import { SpawnError } from '../shared/spawn-error.js';
import { sleep } from '../shared/timers.js';
import { cgroupKill, cgroupPids, instanceDir, readCgroupNumber, readCgroupStat, removeCgroup, type Controller } from './cgroups.js';
import { applyLimits, rlimitLines, rlimitsFor, type Rlimit } from './limits.js';
import type { LocalMachine } from './local-machine.js';
import { drainPipeNow, streamFd } from './pipe-drain.js';
import { spawnPty } from './pty-spawn.js';
import type { PipeFds } from '../shared/fifo-pool.js';
import { nativeSpawner, type ChildFd, type NativeSpawner, type Started } from '../shared/native-spawn.js';
import { errnoCode, errorMessage } from '../shared/thrown.js';

const POLL_MS = 10;

/** How a session's process is started: the program itself (host), or wrapped to enter a sandbox. */
export interface Launch {
  file: string;
  args: string[];
  /** Host directory the spawned process starts in. */
  cwd: string;
  /** Environment of the spawned process. */
  env: Record<string, string>;
  /** Release what the launch holds (called once the process has exited, or failed to start). */
  release?: () => void;
  /** Descriptors the process gets from fd 4 on (fd 3 is the state pipe's); the spawn closes them. Pipe spawns only. */
  extraFds?: number[];
  /** Starts the process instead of posix_spawn, with the same pipes (the sandbox's entry forker). Pipe spawns only. */
  spawner?: NativeSpawner['spawn'];
}

/**
 * The processes of one session started on this machine (the host and sandbox
 * tiers both start theirs here): its cgroups and rlimits, spawning with real
 * pipes or a terminal, finding a command's or the session's tree, killing it,
 * its usage. How a process is started (plainly, or into a sandbox) is the
 * caller's Launch; processes the caller must never signal (a sandbox's
 * launchers) are in `excluded`.
 */
export class LocalProcesses {
  /** This session's cgroup in each hierarchy it uses (tracking first). */
  private readonly dirs: string[] = [];
  private readonly trackingDir: string | null = null;
  /** Shell lines run before the command: join the session cgroups, set rlimits. */
  readonly prologue: string;
  /** The same as data, for launchers that are not shells: the cgroup.procs files to join, the rlimits. */
  readonly cgroupProcs: string[];
  readonly rlimits: Rlimit[];
  /** Pids never signalled nor counted (a sandbox's command launchers: they end with their command). */
  readonly excluded = new Set<number>();

  constructor(
    private readonly machine: LocalMachine,
    readonly tag: string,
    limits: SessionLimits,
  ) {
    const layout = machine.layout;
    if (layout) {
      // Every cgroup joined costs the spawning shell a migration (a write that can wait for an RCU
      // grace period): join the tracking hierarchy always, limit hierarchies only for limits set.
      const roots = new Set([layout.tracking.root]);
      const limited: [Controller, number | undefined][] = [
        ['memory', limits.memory_bytes],
        ['pids', limits.pids],
        ['cpu', limits.cpu_percent],
      ];
      for (const [c, v] of limited) {
        const ctl = layout.controllers[c];
        if (v !== undefined && ctl) roots.add(ctl.root);
      }
      const dirOf = (root: string) => join(instanceDir(root, machine.instanceId), `s-${tag}`);
      for (const root of roots) {
        const dir = dirOf(root);
        mkdirSync(dir, { recursive: true });
        this.dirs.push(dir);
      }
      this.trackingDir = dirOf(layout.tracking.root);
      applyLimits(layout, machine.instanceId, tag, limits);
    }
    this.cgroupProcs = this.dirs.map((d) => join(d, 'cgroup.procs'));
    this.rlimits = rlimitsFor(limits, layout);
    this.prologue = prologueFor(this.dirs, rlimitLines(this.rlimits));
  }

  /** The tracking tag of a command (or, null, the session's prefix of all of them). */
  tagOf(commandTag: string | null): string {
    return `${this.machine.instanceId}:${this.tag}:${commandTag ?? ''}`;
  }

  /** Start `launch` for `spec`; its release runs once the process has exited. */
  async spawn(launch: Launch, spec: SpawnSpec): Promise<SpawnedProcess> {
    try {
      const proc = await this.spawnLaunch(launch, spec);
      if (launch.release) void proc.exited.then(launch.release);
      return proc;
    } catch (err) {
      launch.release?.();
      throw err;
    }
  }

  private async spawnLaunch(launch: Launch, spec: SpawnSpec): Promise<SpawnedProcess> {
    const { file, args, cwd, env } = launch;
    if (spec.pty)
      return spawnPty(file, args, { cwd, env, cols: spec.pty.cols, rows: spec.pty.rows }).catch((e: unknown) => {
        throw new SpawnError(errorMessage(e), errnoCode(e));
      });
    const native = nativeSpawner();
    if (native) return spawnNative(native, launch, spec);
    const fifos = this.machine.fifos;
    const out = fifos?.forOutput() ?? null;
    const err = fifos?.forOutput() ?? null;
    const st = fifos && spec.stateFd ? fifos.forOutput() : null;
    const inp = fifos && spec.stdin === 'pipe' ? fifos.forInput() : null;
    const extra = launch.extraFds ?? [];
    let child;
    try {
      child = spawn(file, args, {
        cwd,
        env,
        stdio: [inp ? inp.read : spec.stdin, out ? out.write : 'pipe', err ? err.write : 'pipe', spec.stateFd ? (st ? st.write : 'pipe') : 'ignore', ...extra],
        detached: true,
      });
    } catch (e) {
      for (const fd of [out?.read, err?.read, st?.read, inp?.write]) if (fd !== undefined) closeSync(fd);
      throw new SpawnError(errorMessage(e), errnoCode(e));
    } finally {
      // The child has its own copies now; ours would keep the pipes from reaching EOF.
      for (const fd of [out?.write, err?.write, st?.write, inp?.read, ...extra]) if (fd !== undefined) closeSync(fd);
    }
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
      for (const s of [stdout, stderr, state, stdin]) s?.destroy();
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

  processesNow(scope: KillScope): number[] {
    return this.scan(scope).pids;
  }

  /** The processes in scope, but those spared (excluded), and whether the scan could judge every process. */
  private scan(scope: KillScope): TreeScan {
    const found = this.inScope(scope);
    return this.excluded.size === 0 ? found : { pids: found.pids.filter((p) => !this.excluded.has(p)), unsettled: found.unsettled };
  }

  private inScope(scope: KillScope): TreeScan {
    if (this.trackingDir && scope.commandTag === null) {
      const pids = new Set(cgroupPids(this.trackingDir));
      // A leader killed before its prologue joined the cgroup is still found through its group.
      if (scope.pgids.some((g) => !pids.has(g))) for (const p of selectTree(scanProcesses(), () => false, scope.pgids)) pids.add(p);
      // The cgroup holds every process of the session, whatever it runs: nothing is left to judge.
      return { pids: [...pids], unsettled: false };
    }
    return scanTree(this.tagOf(scope.commandTag), scope.commandTag === null, scope.pgids);
  }

  signal(scope: KillScope, signal: NodeJS.Signals): number {
    return signalTree(this.processesNow(scope), scope.pgids, signal, this.excluded);
  }

  async terminate(scope: KillScope, graceMs: number): Promise<number> {
    const cgroupKills = this.trackingDir !== null && scope.commandTag === null && this.machine.layout?.tracking.canKill === true;
    return terminateTree(
      () => this.scan(scope),
      graceMs,
      (seen) => {
        if (!cgroupKills || !this.trackingDir) return;
        for (const p of cgroupPids(this.trackingDir)) seen.add(p);
        cgroupKill(this.trackingDir);
      },
    );
  }

  usage(): SessionUsage {
    const pids = this.processesNow({ commandTag: null, pgids: [] });
    const layout = this.machine.layout;
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

  oomKills(): number {
    const mem = this.machine.layout?.controllers.memory;
    const dir = mem && this.dirFor(mem.root);
    const own = this.machine.ownOomCounter;
    if (!dir) return own ? (readCgroupStat(own.dir, own.file, 'oom_kill') ?? 0) : 0;
    return readCgroupStat(dir, mem.version === 2 ? 'memory.events' : 'memory.oom_control', 'oom_kill') ?? 0;
  }

  /** This session's cgroup under `root`, if it joined that hierarchy. */
  private dirFor(root: string): string | null {
    const dir = join(instanceDir(root, this.machine.instanceId), `s-${this.tag}`);
    return this.dirs.includes(dir) ? dir : null;
  }

  async destroy(graceMs: number, pgids: number[]): Promise<number> {
    const killed = await this.terminate({ commandTag: null, pgids }, graceMs);
    // A process may have moved itself out of the session's cgroup (a host-tier command can write
    // another cgroup.procs): it still carries the session's tag, and the sweep finds it.
    if (this.trackingDir) this.machine.sweepLater(this.tagOf(null));
    for (const dir of this.dirs) {
      for (let i = 0; i < 100 && !removeCgroup(dir); i++) await sleep(POLL_MS);
    }
    return killed;
  }
}

/** A pipe end of the daemon's as a stream (libuv makes it non-blocking: pipe-drain.ts relies on it). */
function wrap(fd: number, readable: boolean): Socket {
  return new Socket({ fd, readable, writable: !readable });
}

/**
 * Spawn with real pipes through posix_spawn (native-spawn.ts): the daemon is
 * not forked. What the child gets is what Node's spawn with `detached: true`
 * and the pipes above gives it.
 */
async function spawnNative(native: NativeSpawner, launch: Launch, spec: SpawnSpec): Promise<SpawnedProcess> {
  const made: PipeFds[] = [];
  const pipe = () => {
    const p = native.pipe();
    made.push(p);
    return p;
  };
  const extra = launch.extraFds ?? [];
  let out: PipeFds, err: PipeFds, st: PipeFds | null;
  let inp: PipeFds | null = null;
  let child: Started;
  try {
    out = pipe();
    err = pipe();
    st = spec.stateFd ? pipe() : null;
    inp = spec.stdin === 'pipe' ? pipe() : null;
    const stdio: ChildFd[] = [inp ? inp.read : 'ignore', out.write, err.write, st ? st.write : 'ignore', ...extra];
    child = await (launch.spawner ?? native.spawn)(launch.file, [launch.file, ...launch.args], { cwd: launch.cwd, env: launch.env, stdio });
  } catch (e) {
    for (const p of made) closeSync(p === inp ? p.write : p.read);
    throw e;
  } finally {
    // The child has its own copies now; ours would keep the pipes from reaching EOF.
    for (const p of made) closeSync(p === inp ? p.read : p.write);
    for (const fd of extra) closeSync(fd);
  }
  const stdout = wrap(out.read, true);
  const stderr = wrap(err.read, true);
  const state = st ? wrap(st.read, true) : null;
  const stdin = inp ? wrap(inp.write, false) : null;
  const exited = child.exited.then((status) => {
    // What the process wrote before exiting is in the pipes now: take it before anyone is told it ended.
    drainPipeNow(stdout, out.read);
    drainPipeNow(stderr, err.read);
    drainPipeNow(state, st?.read);
    return status;
  });
  return { pid: child.pid, stdin, stdout, stderr, state, exited, ...(child.direct ? { direct: true } : {}) };
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
  const joins = cgroupDirs.map((d) => `echo $$ 2>/dev/null >${shellQuote(d + '/cgroup.procs')} || { echo 'trl: cannot join the session cgroup' >&2; exit 125; }`);
  return [...joins, ...rlimits].join('\n');
}
