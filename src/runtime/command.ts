import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { BackendSession, ExitStatus, Program, SpawnedProcess } from '../backends/backend.js';
import { OutputBuffer } from './output-buffer.js';

export type CommandState = 'running' | 'exited' | 'killed' | 'timed_out';
export type KillReason = 'timeout' | 'idle_timeout' | 'cancel' | 'destroy' | 'shutdown';

let commandSeq = 0;

/** How long output may still arrive after the main process exits (PROTOCOL §6 "Completion"). */
const DRAIN_MAX_MS = 100;

export interface CommandSpec {
  sessionId: string;
  program: Program;
  env: Record<string, string>;
  cwd: string;
  stdin: Buffer | null;
  timeoutMs: number;
  idleTimeoutMs: number;
  maxOutputBytes: number;
  /** Capture the shell's final cwd and env on fd 3. */
  capture: boolean;
  graceMs: number;
}

/**
 * One process tree started for a session, from spawn to a complete result.
 * Output is always drained into bounded buffers whether or not anyone reads.
 */
export class Command {
  readonly id = randomUUID();
  /** Names the command in its processes' tracking tag; unique within this daemon. */
  readonly tag = (++commandSeq).toString(36);
  readonly stdout: OutputBuffer;
  readonly stderr: OutputBuffer;
  readonly startedAt = new Date();
  private readonly startNs = process.hrtime.bigint();
  durationMs = 0;
  endedAt: Date | null = null;
  state: CommandState = 'running';
  exit: ExitStatus | null = null;
  killReason: KillReason | null = null;
  /** What the shell's EXIT trap reported on fd 3 (cwd and `export -p`), when it exited by itself. */
  stateRaw: Buffer | null = null;
  pid = 0;
  /** Resolves when the command is complete: exited, output drained, and any kill finished. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private proc: SpawnedProcess | null = null;
  private timers: NodeJS.Timeout[] = [];
  private idleTimer: NodeJS.Timeout | null = null;
  private killing: Promise<unknown> | null = null;
  /** Set by every chunk; drain() uses it to see whether an event-loop turn brought output. */
  private dataSeen = false;

  constructor(
    readonly spec: CommandSpec,
    private readonly backend: BackendSession,
  ) {
    this.stdout = new OutputBuffer(spec.maxOutputBytes);
    this.stderr = new OutputBuffer(spec.maxOutputBytes);
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Spawn; rejects with the backend's SpawnError when nothing could be started. */
  async start(): Promise<void> {
    const proc = await this.backend.spawn({
      program: this.spec.program,
      env: this.spec.env,
      cwd: this.spec.cwd,
      stdin: this.spec.stdin ? 'pipe' : 'ignore',
      stateFd: this.spec.capture,
      commandTag: this.tag,
    });
    this.proc = proc;
    this.pid = proc.pid;
    const stateChunks: Buffer[] = [];
    const ended = { stdout: false, stderr: false, state: proc.state === null };
    const onData = (buf: OutputBuffer) => (chunk: Buffer) => {
      buf.append(chunk);
      this.dataSeen = true;
      this.resetIdle();
    };
    proc.stdout.on('data', onData(this.stdout));
    proc.stderr.on('data', onData(this.stderr));
    proc.state?.on('data', (c: Buffer) => stateChunks.push(c));
    const watchEnd = (s: Readable, key: keyof typeof ended) => {
      s.once('end', () => (ended[key] = true));
      s.once('error', () => (ended[key] = true));
    };
    watchEnd(proc.stdout, 'stdout');
    watchEnd(proc.stderr, 'stderr');
    if (proc.state) watchEnd(proc.state, 'state');

    if (proc.stdin && this.spec.stdin) {
      proc.stdin.on('error', () => {
        /* the command closed its stdin early: not an error of ours */
      });
      proc.stdin.end(this.spec.stdin);
    }
    if (this.spec.timeoutMs > 0) {
      this.timers.push(setTimeout(() => void this.kill('timeout', this.spec.graceMs), this.spec.timeoutMs));
    }
    this.resetIdle();

    void proc.exited.then(async (status) => {
      this.exit = status;
      this.durationMs = Number(process.hrtime.bigint() - this.startNs) / 1e6;
      this.clearTimers();
      await this.drain(ended);
      if (stateChunks.length > 0 && this.killReason === null && status.signal === null) {
        this.stateRaw = stateChunks.length === 1 ? stateChunks[0]! : Buffer.concat(stateChunks);
      }
      if (this.killing) await this.killing;
      this.state =
        this.killReason === 'timeout' || this.killReason === 'idle_timeout'
          ? 'timed_out'
          : this.killReason !== null
            ? 'killed'
            : 'exited';
      this.endedAt = new Date();
      this.resolveDone();
    });
  }

  /**
   * Wait until the pipes are at EOF, or — when background processes hold them
   * open — until an event-loop turn passes with no new data (what the main
   * process wrote before exiting is then read), at most DRAIN_MAX_MS.
   */
  private drain(ended: { stdout: boolean; stderr: boolean; state: boolean }): Promise<void> {
    return new Promise((resolve) => {
      const deadline = Date.now() + DRAIN_MAX_MS;
      let quietTurns = 0;
      this.dataSeen = false;
      const check = () => {
        if (ended.stdout && ended.stderr && ended.state) return resolve();
        quietTurns = this.dataSeen ? 0 : quietTurns + 1;
        this.dataSeen = false;
        if (quietTurns >= 3 || Date.now() >= deadline) return resolve();
        setImmediate(check);
      };
      setImmediate(check);
    });
  }

  /** Kill the command's whole tree: SIGTERM, grace, SIGKILL. Idempotent. */
  kill(reason: KillReason, graceMs: number): Promise<unknown> {
    if (this.killing || this.state !== 'running') return this.killing ?? Promise.resolve();
    this.killReason = reason;
    this.clearTimers();
    this.killing = this.backend.terminate({ commandTag: this.tag, pgids: this.pid ? [this.pid] : [] }, graceMs);
    return this.killing;
  }

  /** The whole session is being killed around this command: record why, without a kill of its own. */
  markKilled(reason: KillReason): void {
    if (this.killReason !== null || this.state !== 'running') return;
    this.killReason = reason;
    this.clearTimers();
  }

  get running(): boolean {
    return this.state === 'running';
  }

  private resetIdle(): void {
    if (this.spec.idleTimeoutMs <= 0 || this.killReason !== null || this.exit) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => void this.kill('idle_timeout', this.spec.graceMs), this.spec.idleTimeoutMs);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
