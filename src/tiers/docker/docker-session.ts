import type Docker from 'dockerode';
import { Writable } from 'node:stream';
import type { TierFiles } from '../tier-files.js';
import type { TierSession, ExitStatus, KillScope, SessionUsage, SpawnedProcess, SpawnSpec } from '../tier.js';
import { oomCounterOf, readCgroupStat } from '../host/cgroups.js';
import { HOLDER_PIDS, STANDARD_PATH } from './container.js';
import { pathKind } from './exec-lines.js';
import { DockerFiles } from './files.js';
import type { EngineEvents } from './engine-events.js';
import { ENGINE_REPORT_MS, execArgv, newEndMarker, startExec, type ExecRun } from './exec.js';
import type { FifoDir } from './fifo-dir.js';
import { HostSideKill } from './host-side-kill.js';
import { KillerFailed, killArgv, runKiller, type KillAction } from './killer.js';
import { TAG_VAR } from '../shared/process-table.js';
import { signalName } from '../shared/signals.js';
import { SpawnError } from '../shared/spawn-error.js';
import { InnerRunner } from './inner-runner.js';
import { settledWithin, sleep, within } from '../shared/timers.js';

/** After a kill, how long an exec in scope may take to be reported dead before the kill runs again (it may not have started yet). */
const EXIT_WAIT_MS = 500;
const KILL_ATTEMPTS = 3;
/** Starts of the trl inside a container (the first and its restarts after deaths) before the session's commands fail. */
const INNER_STARTS = 4;
/**
 * After the exit status, how long the output may be quiet, and how long it
 * may flow in all, before the daemon stops waiting for its end marker (time
 * paused for a slow reader not counted). The marker normally follows within
 * milliseconds; it never comes when the wrapper was killed (then usually the
 * connection ends instead).
 */
const OUTPUT_QUIET_MS = 2000;
const OUTPUT_CAP_MS = 10_000;
/** Attempts at one terminal resize the engine refuses (the exec may not be started yet), and the pause between them. */
const RESIZE_ATTEMPTS = 3;
const RESIZE_RETRY_MS = 20;
/** The longest the daemon waits for one engine call that is not a stream (removal, stats). */
const ENGINE_CALL_MS = 30_000;

/** A started container and what its sessions need to know about it. */
export interface StartedContainer {
  container: Docker.Container;
  /** Its state FIFOs' host directory; null on an engine that shares no filesystem with the daemon (only the inner path runs there). */
  fifos: FifoDir | null;
  /** The engine it runs on (--docker-host, DOCKER_HOST or the local socket), for session.info. */
  engine: string;
  image: string;
  /** The OCI runtime it runs under (--docker-runtime, else the engine's default), for session.info. */
  runtime: string;
  /** USER or UID:GID its execs run as. */
  user: string;
  /** The workspace, at the same path inside (where the files helper finds it). */
  workspace: string;
  /** The workspace guard it was made with (a warm one must match the workspace now). */
  guardKey: string;
  /** Let go of what the container mounted over (its ghosts), once it is removed. */
  release(): void;
  /** The trl inside the image (its `dev.trl.inner` label), run once per container for the inner path; null: the exec path. */
  innerTrl: string | null;
  /** Names of variables the image (and engine) put into every exec, which a session may not have. */
  imageEnvKeys: string[];
  /**
   * The container's own OOM counter in its memory cgroup, when this daemon
   * sees the engine's cgroups (a local engine): exact the moment the kernel
   * kills, where the engine's events come late. Null: count events.
   */
  oomCounter: OomCounter | null;
}

type OomCounter = { dir: string; file: string };

export interface DockerSessionContext {
  events: EngineEvents;
  user: string;
  instanceId: string;
  /** Called once the container is gone (the backend forgets the session). */
  onDestroyed(session: DockerSession): void;
}

interface ExecEntry {
  /** A signal of ours was sent to its tree: an exit code 128+N means signal N. */
  signalled: boolean;
  exited: Promise<unknown>;
}

/**
 * One docker session: a container whose main process only holds it open.
 * Each command is an exec carrying the session's environment and tracking
 * tag; its tree is found and killed from inside the container (docker-kill).
 */
export class DockerSession implements TierSession {
  private readonly running = new Map<string, ExecEntry>();
  /** Commands that have exited but whose exit the engine's event stream has not reported yet (see oomKills). */
  private readonly unreported = new Set<Promise<void>>();
  /** The OOM count oomKills() last answered. */
  private oomAnswered = 0;
  /** The OOM counter's last reading. */
  private cgroupOoms = 0;
  private destroyed: Promise<number> | null = null;
  private readonly prefix: string;
  private readonly hostSide: HostSideKill;
  private filesHandle: DockerFiles | null = null;
  /** The inner path's runner (the trl inside the container), once started; see runner(). */
  private inner: Promise<InnerRunner> | null = null;
  private innerStarts = 0;
  private innerDeath: string | null = null;
  /** An inner trl process is running in the container (usage counts it out). */
  private innerUp = false;
  /** A start of the inner runner in progress (runner()). */
  private innerStarting: Promise<InnerRunner | null> | null = null;
  /** OOM kills the inner trls reported at their commands' exits (read from the container's cgroup inside: exact). */
  private innerOoms = 0;
  /** After an inner trl died: the kill of what its commands left running (a restart waits for it). */
  private orphanKill: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: DockerSessionContext,
    private readonly c: StartedContainer,
    readonly tag: string,
  ) {
    this.prefix = `${ctx.instanceId}:${tag}:`;
    this.hostSide = new HostSideKill(this.prefix);
    if (c.fifos === null) {
      // An engine failure is no answer about the path: the command's own start then says what is wrong.
      this.directoryKind = (path) => pathKind(c.container, ctx.user, [`PATH=${STANDARD_PATH}`], path).catch(() => 'dir' as const);
    }
    // Started with the session, so that its first command does not wait for node to boot.
    if (c.innerTrl) void this.runner().catch(() => undefined);
  }

  describe(): Record<string, string> {
    return {
      container_id: this.c.container.id.slice(0, 12),
      image: this.c.image,
      oci_runtime: this.c.runtime,
      exec_path: this.c.innerTrl ? 'inner' : 'exec',
      engine: this.c.engine,
      workspace: this.c.fifos ? 'bind-mount' : 'in-container',
    };
  }

  /**
   * The inner path's runner, (re)started when it is not running: null on the
   * exec path. A trl that does not start the first time (the label lied, the
   * binary does not run here) sends the session to the exec path for good; one
   * that dies later is started again, at most INNER_STARTS times in all, then
   * the session's commands fail with the reason.
   */
  private async runner(): Promise<InnerRunner | null> {
    const trl = this.c.innerTrl;
    if (!trl || this.destroyed) return null;
    const current = this.inner ? await this.inner.catch(() => null) : null;
    if (current && !current.dead) return current;
    if (this.c.innerTrl === null) return null;
    // Callers that find no live runner at the same time share one start (not one each: a second trl, and a start counted twice).
    this.innerStarting ??= this.startRunner(trl).finally(() => (this.innerStarting = null));
    return this.innerStarting;
  }

  private async startRunner(trl: string): Promise<InnerRunner | null> {
    await this.orphanKill;
    if (this.innerStarts >= INNER_STARTS) {
      throw new SpawnError(`the trl inside the container died ${this.innerStarts} times (last: ${this.innerDeath ?? 'unknown'}); destroy this session and create a new one`, 'EINNER');
    }
    this.innerStarts++;
    const first = this.innerStarts === 1;
    const starting = InnerRunner.start(this.c.container, { trl, user: this.ctx.user, workspace: this.c.workspace, onOom: () => this.innerOoms++ });
    this.inner = starting;
    try {
      const r = await starting;
      this.innerUp = true;
      r.link.onDeath((why) => {
        this.innerUp = false;
        this.innerDeath = why;
        // Its commands have ended (SIGKILL, said on their stderr): so must their processes, which the dead trl no longer tracks.
        // The session-wide kill spares the container's init, its holder and exec'd processes such as a new inner trl.
        if (!this.destroyed) this.orphanKill = this.inContainer({ commandTag: null, pgids: [] }, { kind: 'terminate', graceMs: 0 });
      });
      return r;
    } catch (err) {
      if (first && this.c.fifos === null) {
        throw new SpawnError(
          `the trl inside the container (${trl}) did not start: ${(err as Error).message}; on an engine that shares no filesystem with the daemon there is no exec path to fall back on: fix the image's trl (scripts/build-trl-image.sh) and create a new session`,
          'EINNER',
        );
      }
      if (first) {
        this.c.innerTrl = null; // no working trl inside: the exec path, as for an image without one
        return null;
      }
      throw new SpawnError(`could not restart the trl inside the container: ${(err as Error).message}; destroy this session and create a new one`, 'EINNER');
    }
  }

  /** The running inner runner, if the session is on the inner path and it is up (kills go through it). */
  private async liveRunner(): Promise<InnerRunner | null> {
    const r = this.inner ? await this.inner.catch(() => null) : null;
    return r && !r.dead ? r : null;
  }

  /** Only on an engine that shares no filesystem (see TierSession): the path as the session's user sees it in the container. */
  readonly directoryKind?: (path: string) => Promise<'dir' | 'other' | 'missing'>;

  files(opts: { opTimeoutMs: number }): TierFiles {
    if (this.destroyed) throw new Error('the session has ended');
    this.filesHandle ??= new DockerFiles(this.c.container, this.ctx.user, this.c.workspace, opts.opTimeoutMs);
    return this.filesHandle;
  }

  async spawn(spec: SpawnSpec): Promise<SpawnedProcess> {
    const inner = await this.runner();
    if (inner) return inner.started(inner.spawn(spec, [TAG_VAR, `${this.prefix}${spec.commandTag}`]), spec.commandTag);
    if (this.c.fifos === null) throw new SpawnError('this session has no trl inside its container, and its engine shares no filesystem for the exec path; create a new session', 'EINNER');
    const counter = this.c.oomCounter;
    const oomBefore = this.oomCount(counter);
    const ctl = await this.c.fifos.open();
    const keep = (k: string) => Object.hasOwn(spec.env, k) || (spec.pty !== undefined && k === 'TERM');
    const endMarker = newEndMarker();
    const env = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
    env.push(`${TAG_VAR}=${this.prefix}${spec.commandTag}`);
    let run;
    try {
      run = await startExec(
        this.c.container,
        {
          argv: execArgv(spec.program, {
            state: spec.stateFd,
            tty: spec.pty !== undefined,
            endMarker,
            unset: this.c.imageEnvKeys.filter((k) => !keep(k)),
          }),
          env,
          cwd: spec.cwd,
          user: this.ctx.user,
          stdin: spec.stdin === 'pipe',
          tty: spec.pty ?? null,
          endMarker,
          controlFifo: ctl.containerPath,
        },
        this.ctx.events,
      );
    } catch (err) {
      ctl.release();
      throw err;
    }
    // The wrapper's trailer tells the exit as soon as it happens; the engine's report
    // (exec_die, inspection) is the fallback for a wrapper that was SIGKILLed or never ran.
    let wrapperRuns = false;
    let fifoClosed = false;
    void ctl.started.then(() => (wrapperRuns = true));
    const exitCode = new Promise<number | null>((resolve) => {
      void ctl.exitCode.then((code) => {
        fifoClosed = true;
        if (code !== null) resolve(code);
        else run.poke();
      });
      void run.exitCode.then((code) => {
        // The engine lost track of the exec (null: unreachable for a while) but the wrapper runs:
        // its FIFO still tells the exit, or its end does.
        if (code === null && wrapperRuns && !fifoClosed) void ctl.exitCode.then(resolve);
        else resolve(code);
      });
    });
    const entry: ExecEntry = { signalled: false, exited: exitCode };
    this.running.set(spec.commandTag, entry);
    const exited = exitCode.then(async (code) => {
      this.running.delete(spec.commandTag);
      run.stopWatching();
      ctl.release();
      if (!counter) {
        // OOM kills are counted from the engine's events: oomKills() may wait for this exit's report.
        const reported = run.reported.then(() => void this.unreported.delete(reported));
        this.unreported.add(reported);
      }
      // The status came through the FIFO, but the output is still on its way through the engine,
      // and the runtime reads only briefly after `exited`: resolve once the output has ended.
      await run.outputEnded(OUTPUT_QUIET_MS, OUTPUT_CAP_MS);
      // 137 is also the kernel's OOM kill (the engine reports it as an event), not an exit of the command's own;
      // the event may still be on its way (see oomKills).
      if (code === 128 + 9 && !entry.signalled && !counter) await settledWithin(run.reported, ENGINE_REPORT_MS);
      const oomKilled = code === 128 + 9 && this.oomCount(counter) > oomBefore;
      return exitStatus(code, entry.signalled || oomKilled);
    });
    const proc: SpawnedProcess = {
      pid: 0,
      stdin: run.stdin,
      stdout: run.stdout,
      stderr: run.stderr,
      state: spec.stateFd ? ctl.state : null,
      exited,
    };
    if (spec.pty) {
      const terminal = new TerminalSize(run, spec.pty);
      proc.resize = (cols, rows) => void terminal.set(cols, rows); // never rejects: a refused resize is retried, then given up
      // The engine may take the first resize before the process exists: repeat it once the wrapper runs.
      void ctl.started.then(() => terminal.reapply());
      if (run.stdin) proc.stdin = terminal.after(run.stdin);
    }
    return proc;
  }

  private killerOpts() {
    return { user: this.ctx.user, events: this.ctx.events, fifos: this.c.fifos };
  }

  private inScope(scope: KillScope): ExecEntry[] {
    if (scope.commandTag === null) return [...this.running.values()];
    const e = this.running.get(scope.commandTag);
    return e ? [e] : [];
  }

  /**
   * Run the in-container killer. Not `complete` when it could not run to the
   * end — no exec could start, or it lost a fork to the pids limit — or the
   * engine said the container is not running (it may, while the container is
   * only at its pids limit): then the daemon's side acts too, and finds
   * nothing in a container that is really gone. `lines` is what it answered.
   */
  private async inContainer(scope: KillScope, action: KillAction): Promise<{ lines: string[]; complete: boolean }> {
    if (this.destroyed) return { lines: [], complete: true };
    const graceMs = action.kind === 'terminate' ? action.graceMs : 0;
    try {
      return { lines: await runKiller(this.c.container, this.killerOpts(), killArgv(this.prefix, scope.commandTag, action), graceMs), complete: true };
    } catch (err) {
      return { lines: err instanceof KillerFailed ? err.partial : [], complete: this.destroyed !== null };
    }
  }

  async processes(scope: KillScope): Promise<number[]> {
    const inner = await this.liveRunner();
    if (inner) return inner.processes(scope);
    const { lines, complete } = await this.inContainer(scope, { kind: 'list' });
    return complete ? lines.map(Number).filter((n) => n > 0) : this.hostSide.processes(scope.commandTag);
  }

  async signal(scope: KillScope, signal: NodeJS.Signals): Promise<number> {
    const inner = await this.liveRunner();
    if (inner) return inner.signal(scope, signal);
    for (const e of this.inScope(scope)) e.signalled = true;
    const { lines, complete } = await this.inContainer(scope, { kind: 'signal', signal });
    return complete ? Number(lines[0] ?? 0) : this.hostSide.signal(scope.commandTag, signal);
  }

  async terminate(scope: KillScope, graceMs: number): Promise<number> {
    const inner = await this.liveRunner();
    if (inner) return inner.terminate(scope, graceMs);
    let killed = 0;
    for (let attempt = 0; attempt < KILL_ATTEMPTS; attempt++) {
      const execs = this.inScope(scope);
      for (const e of execs) e.signalled = true;
      const grace = attempt === 0 ? graceMs : 0;
      const { lines, complete } = await this.inContainer(scope, { kind: 'terminate', graceMs: grace });
      // The count so far of a killer that stopped early, and what the daemon's side finds left.
      killed += Number(lines.at(-1) ?? 0) + (complete ? 0 : await this.hostSide.terminate(scope.commandTag, grace));
      // An exec started a moment ago may not have had a process yet when the killer looked.
      if (execs.length === 0 || this.destroyed) break;
      const allGone = await settledWithin(Promise.all(execs.map((e) => e.exited)), EXIT_WAIT_MS);
      if (allGone) break;
    }
    return killed;
  }

  async usage(): Promise<SessionUsage | null> {
    try {
      // The fields this reads, each optional: an engine may leave any of them out.
      const s: ContainerStats = await within(this.c.container.stats({ stream: false, 'one-shot': true }), ENGINE_CALL_MS, () => engineSilent('container stats'));
      const stats = s.memory_stats?.stats ?? {};
      const inactive = stats.total_inactive_file ?? stats.inactive_file ?? 0;
      return {
        memory_bytes: Math.max(0, (s.memory_stats?.usage ?? 0) - inactive),
        // The inner trl is trl's, like the holder: not one of the session's processes.
        pids: Math.max(0, (s.pids_stats?.current ?? HOLDER_PIDS) - HOLDER_PIDS - (this.innerUp ? 1 : 0)),
        cpu_s: (s.cpu_stats?.cpu_usage?.total_usage ?? 0) / 1e9,
      };
    } catch {
      return null; // unknown is not zero
    }
  }

  /**
   * OOM kills in the container so far: from its memory cgroup when visible,
   * else on the inner path as its trl reported them, else from the engine's events, waiting (only once OOM events are coming)
   * until the engine has reported every exited command's exit, so a late
   * event never counts toward the next command (docs/docker-tier.md).
   */
  async oomKills(): Promise<number> {
    const counter = this.c.oomCounter;
    if (counter) return this.oomCount(counter);
    // The inner path: its trl reads the container's counter at each command's exit; the engine's events would come late.
    if (this.c.innerTrl) return this.innerOoms;
    const id = this.c.container.id;
    if (this.ctx.events.connected && !this.destroyed && this.unreported.size > 0 && this.ctx.events.oomKills(id) !== this.oomAnswered) {
      await settledWithin(Promise.all(this.unreported), ENGINE_REPORT_MS);
    }
    const counted = this.ctx.events.oomKills(id);
    this.oomAnswered = counted;
    if (this.ctx.events.connected || this.destroyed) return counted;
    try {
      const info = await this.c.container.inspect();
      return Math.max(counted, info.State.OOMKilled ? 1 : 0);
    } catch {
      return counted;
    }
  }

  /** OOM kills so far: the cgroup's counter when there is one (its last value once the cgroup is gone), else the engine's events seen. */
  private oomCount(counter: OomCounter | null): number {
    if (!counter) return this.ctx.events.oomKills(this.c.container.id);
    this.cgroupOoms = readCgroupStat(counter.dir, counter.file, 'oom_kill') ?? this.cgroupOoms;
    return this.cgroupOoms;
  }

  destroy(graceMs: number): Promise<number> {
    this.destroyed ??= this.destroyNow(graceMs);
    return this.destroyed;
  }

  private async destroyNow(graceMs: number): Promise<number> {
    await this.filesHandle?.close();
    // The inner trl (an exec: parent pid 0, spared by the killer) stays up while the killer ends the session's processes and counts them.
    const inner = await this.liveRunner();
    for (const e of this.running.values()) e.signalled = true;
    let killed = 0;
    try {
      // With a grace time the tree gets SIGTERM first; without, removal SIGKILLs it all and the count is the container's.
      killed =
        graceMs > 0
          ? Number((await runKiller(this.c.container, this.killerOpts(), killArgv(this.prefix, null, { kind: 'terminate', graceMs }), graceMs)).at(-1) ?? 0)
          : ((await this.usage())?.pids ?? 0);
      // (A killer that cannot run here needs no fallback: removing the container kills everything.)
    } catch {
      /* a broken or vanished container: removing it below kills what is left */
    }
    inner?.close();
    await removeContainer(this.c);
    this.ctx.events.forget(this.c.container.id);
    this.ctx.onDestroyed(this);
    return killed;
  }
}

/**
 * The size of one exec's terminal. A resize is an engine call of its own,
 * while input travels the exec's connection: input sent after a resize could
 * overtake it (`read x; stty size` would still see the old size). So resizes
 * run one after another, each retried while the engine refuses it, and the
 * input written after a resize waits until the engine has answered it.
 */
class TerminalSize {
  private size: { cols: number; rows: number };
  /** The resizes asked for so far, in order; settles once the engine has answered the last. */
  private applied: Promise<void> = Promise.resolve();

  constructor(
    private readonly run: ExecRun,
    initial: { cols: number; rows: number },
  ) {
    this.size = initial;
    void this.reapply();
  }

  set(cols: number, rows: number): Promise<void> {
    this.size = { cols, rows };
    return this.reapply();
  }

  /** (Re)send the current size. */
  reapply(): Promise<void> {
    this.applied = this.applied.then(() => this.send());
    return this.applied;
  }

  private async send(): Promise<void> {
    const { cols, rows } = this.size;
    for (let attempt = 1; attempt <= RESIZE_ATTEMPTS; attempt++) {
      if (await this.run.resize(cols, rows)) return;
      if (attempt < RESIZE_ATTEMPTS) await sleep(RESIZE_RETRY_MS);
    }
  }

  /** `stdin` with each write (and the end) held until the resizes asked for before it are answered. */
  after(stdin: Writable): Writable {
    // Its errors reach the caller through the write callbacks, as the outer stream's 'error'.
    stdin.on('error', () => undefined);
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        void this.applied.then(() => stdin.write(chunk, (err) => cb(err ?? null)));
      },
      final: (cb) => {
        void this.applied.then(() => stdin.end(() => cb()));
      },
    });
  }
}

/** Force-remove a container (SIGKILL to all its processes) and its FIFO directory. */
export async function removeContainer(c: StartedContainer): Promise<void> {
  try {
    await within(c.container.remove({ force: true, v: true }), ENGINE_CALL_MS, () => engineSilent('container removal'));
  } catch {
    /* already gone; or the engine is unreachable or stuck, and the next daemon start reaps the container by its labels */
  }
  c.fifos?.remove();
  c.release();
}

function exitStatus(code: number | null, signalled: boolean): ExitStatus {
  // The engine lost the exec: its container was removed under it (session destroyed).
  if (code === null) return { code: null, signal: 'SIGKILL' };
  if (signalled && code > 128) {
    const name = signalName(code - 128);
    if (name) return { code: null, signal: name };
  }
  return { code, signal: null };
}

/** The engine did not answer a call in time. */
function engineSilent(what: string): Error {
  return new Error(`the docker engine did not answer (${what}) within ${ENGINE_CALL_MS / 1000} s`);
}

interface ContainerStats {
  memory_stats?: { usage?: number; stats?: { total_inactive_file?: number; inactive_file?: number } };
  pids_stats?: { current?: number };
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
}

/** The OOM counter of a container's memory cgroup, found through its main process; null when not visible here. */
export function oomCounterOfContainer(containerId: string, pid: number | undefined): OomCounter | null {
  const counter = pid ? oomCounterOf(pid) : null;
  // The pid is the engine's: in another pid namespace it is some other process, in another cgroup.
  return counter && counter.dir.includes(containerId) ? counter : null;
}
