import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { TierSession, ExitStatus, Program, SpawnedProcess } from '../tiers/tier.js';
import { collectWhenQuiet, LARGE_STREAM_BYTES } from './idle-collect.js';
import { OutputBuffer } from './output-buffer.js';
import { Redactor } from './redactor.js';

export type CommandState = 'running' | 'exited' | 'killed' | 'timed_out';
export type KillReason = 'timeout' | 'idle_timeout' | 'cancel' | 'destroy' | 'shutdown';

let commandSeq = 0;

/**
 * The most bytes of fd 3 kept (a shell's state, or exec.stream's `fd3`); past
 * it the command reports no state. Above MAX_FD3_BYTES so that a state one
 * byte too large for `fd3` is known as too large rather than cut.
 */
const MAX_STATE_BYTES = 16 * 1024 * 1024;

/** How long output may still arrive after the main process exits (PROTOCOL §6 "Completion"). */
const DRAIN_MAX_MS = 100;

/**
 * A client streaming the output. While it keeps reading it is owed every
 * byte, so the command's pipes are paused when it falls `holdBytes` behind
 * (the pipe then blocks the writer, as `cat` through a pipe would). A reader
 * that has stopped reading (`stalled`) holds nothing back: the command runs on
 * and the reader later gets a gap.
 */
export interface FlowReader {
  offset(stream: 'stdout' | 'stderr'): number;
  readonly stalled: boolean;
}

export interface CommandSpec {
  sessionId: string;
  /** What was asked for, for exec.info/exec.list: the command text, or argv joined. */
  text: string;
  /** Started by exec.start (or yielded by exec.run): does not hold the foreground slot. */
  background: boolean;
  pty: { cols: number; rows: number } | null;
  /** Keep stdin open for exec.input. */
  stdinOpen: boolean;
  program: Program;
  env: Record<string, string>;
  cwd: string;
  stdin: Buffer | null;
  timeoutMs: number;
  idleTimeoutMs: number;
  maxOutputBytes: number;
  /** Capture the shell's final cwd and env on fd 3. */
  capture: boolean;
  /** Give the (argv) program a pipe on fd 3 and return what it wrote (exec.stream's `fd3`); never taken as the session's state. */
  fd3?: boolean;
  graceMs: number;
  /** Values that must not appear in what the command prints (nor in logs of its text). */
  secrets: string[];
  /** Replace `secrets` in the output with [REDACTED]. */
  redact: boolean;
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
  /** The session's OOM-kill count when the command started, and whether it rose while it ran. */
  private oomBefore = 0;
  oomKilled = false;
  /** Resolves when the command is complete: exited, output drained, and any kill finished. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private proc: SpawnedProcess | null = null;
  private timers: NodeJS.Timeout[] = [];
  private idleTimer: NodeJS.Timeout | null = null;
  private killing: Promise<unknown> | null = null;
  /** Set by every chunk; drain() uses it to see whether an event-loop turn brought output. */
  private dataSeen = false;
  /** Told about new output and about completion (stream pumps, long-polls). */
  private readonly watchers = new Set<() => void>();
  private stdinStream: Writable | null = null;
  /** Streaming readers whose position can hold the command back (flow control, see FlowReader). */
  private readonly readers = new Set<FlowReader>();
  private pausedForReaders = false;
  private outputs: Readable[] = [];
  /** Emit what the redactors held back to decide a possible secret (at the end of the output). */
  private flushRedactors: () => void = () => undefined;
  background: boolean;
  pty: { cols: number; rows: number } | null;

  constructor(
    readonly spec: CommandSpec,
    private readonly tier: TierSession,
  ) {
    this.stdout = new OutputBuffer(spec.maxOutputBytes);
    this.stderr = new OutputBuffer(spec.maxOutputBytes);
    this.done = new Promise((r) => (this.resolveDone = r));
    this.background = spec.background;
    this.pty = spec.pty;
  }

  /** Call `fn` whenever output arrives or the command completes; returns the unsubscribe. */
  watch(fn: () => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  private notify(): void {
    for (const fn of this.watchers) fn();
  }

  addReader(r: FlowReader): () => void {
    this.readers.add(r);
    return () => {
      this.readers.delete(r);
      this.flowCheck();
    };
  }

  /** Pause the pipes while an active reader is too far behind; resume once none is. */
  flowCheck(): void {
    let hold = false;
    if (this.exit === null) {
      for (const r of this.readers) {
        if (r.stalled) continue;
        if (this.stdout.total - r.offset('stdout') > this.holdBytes || this.stderr.total - r.offset('stderr') > this.holdBytes) {
          hold = true;
          break;
        }
      }
    }
    if (hold === this.pausedForReaders) return;
    this.pausedForReaders = hold;
    for (const s of this.outputs) {
      if (hold) s.pause();
      else s.resume();
    }
  }

  /** Half the retained tail: a held-back pipe can deliver one more read without anything dropped. */
  private get holdBytes(): number {
    return Math.max(64 * 1024, Math.floor(this.stdout.tailCap / 2));
  }

  get stdinOpen(): boolean {
    return this.stdinStream !== null && this.state === 'running';
  }

  /** Write to stdin (exec.input); resolves once the bytes are handed to the pipe. */
  write(data: Buffer): Promise<void> {
    const s = this.stdinStream;
    if (!s) return Promise.reject(new Error('stdin is closed'));
    return new Promise((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
  }

  closeStdin(): void {
    this.stdinStream?.end();
    this.stdinStream = null;
  }

  resize(cols: number, rows: number): void {
    this.pty = { cols, rows };
    if (this.exit !== null) return;
    try {
      this.proc?.resize?.(cols, rows);
    } catch {
      /* the terminal closed as the process exited: nothing left to resize */
    }
  }

  /** Deliver one signal to the command's whole tree; returns how many processes got it. */
  async signal(signal: NodeJS.Signals): Promise<number> {
    if (this.state !== 'running') return 0;
    return this.tier.signal({ commandTag: this.tag, pgids: this.pid ? [this.pid] : [] }, signal);
  }

  /** Spawn; rejects with the tier's SpawnError when nothing could be started. */
  async start(): Promise<void> {
    this.oomBefore = await this.tier.oomKills();
    const proc = await this.tier.spawn({
      program: this.spec.program,
      env: this.spec.env,
      cwd: this.spec.cwd,
      stdin: this.spec.stdin || this.spec.stdinOpen ? 'pipe' : 'ignore',
      stateFd: (this.spec.capture || this.spec.fd3 === true) && !this.spec.pty,
      commandTag: this.tag,
      pty: this.spec.pty ?? undefined,
    });
    this.proc = proc;
    this.pid = proc.pid;
    // Kept for the retention time: drop what only the spawn needed (the environment, a copy per command).
    this.spec.env = {};
    const stateChunks: Buffer[] = [];
    const ended = { stdout: false, stderr: false, state: proc.state === null };
    const redactors: [Redactor, Redactor] | null = this.spec.redact && this.spec.secrets.length > 0 ? [new Redactor(this.spec.secrets), new Redactor(this.spec.secrets)] : null;
    this.flushRedactors = () => {
      if (!redactors) return;
      this.stdout.append(redactors[0].flush());
      this.stderr.append(redactors[1].flush());
    };
    const onData = (buf: OutputBuffer) => (raw: Buffer) => {
      const chunk = redactors ? redactors[buf === this.stdout ? 0 : 1].push(raw) : raw;
      if (chunk.length === 0) return;
      buf.append(chunk);
      this.dataSeen = true;
      this.resetIdle();
      if (this.readers.size > 0) this.flowCheck();
      if (this.watchers.size > 0) this.notify();
    };
    this.outputs = [proc.stdout, proc.stderr];
    proc.stdout.on('data', onData(this.stdout));
    proc.stderr.on('data', onData(this.stderr));
    // Read to the end whatever comes (a writer must not block), kept up to a bound: past it, no state at all.
    let stateBytes = 0;
    proc.state?.on('data', (c: Buffer) => {
      stateBytes += c.length;
      if (stateBytes <= MAX_STATE_BYTES) stateChunks.push(c);
      else stateChunks.length = 0;
    });
    const watchEnd = (s: Readable, key: keyof typeof ended) => {
      s.once('end', () => (ended[key] = true));
      s.once('error', () => (ended[key] = true));
    };
    watchEnd(proc.stdout, 'stdout');
    watchEnd(proc.stderr, 'stderr');
    if (proc.state) watchEnd(proc.state, 'state');

    if (proc.stdin) {
      proc.stdin.on('error', () => {
        /* the command closed its stdin early: not an error of ours */
      });
      if (this.spec.stdin) proc.stdin.end(this.spec.stdin);
      else if (this.spec.stdinOpen) this.stdinStream = proc.stdin;
    }
    if (this.spec.timeoutMs > 0) {
      this.timers.push(setTimeout(() => void this.kill('timeout', this.spec.graceMs), this.spec.timeoutMs));
    }
    this.resetIdle();

    void proc.exited.then(async (status) => {
      this.exit = status;
      // What is left in the pipes is at most a pipe buffer: read it all, whoever is behind.
      this.flowCheck();
      this.durationMs = Number(process.hrtime.bigint() - this.startNs) / 1e6;
      this.clearTimers();
      await this.drain(ended);
      this.flushRedactors();
      this.oomKilled = (await this.tier.oomKills()) > this.oomBefore;
      if (stateChunks.length > 0 && stateBytes <= MAX_STATE_BYTES && this.killReason === null && status.signal === null) {
        this.stateRaw = stateChunks.length === 1 ? stateChunks[0]! : Buffer.concat(stateChunks);
      }
      if (this.killing) await this.killing;
      this.state = this.killReason === 'timeout' || this.killReason === 'idle_timeout' ? 'timed_out' : this.killReason !== null ? 'killed' : 'exited';
      this.endedAt = new Date();
      this.stdinStream = null;
      // Tens of MB read (kept or dropped from the middle) are garbage now or soon: give the memory back once all is quiet.
      if (this.stdout.total + this.stderr.total >= LARGE_STREAM_BYTES) collectWhenQuiet();
      this.resolveDone();
      this.notify();
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
    this.killing = this.tier.terminate({ commandTag: this.tag, pgids: this.pid ? [this.pid] : [] }, graceMs);
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
