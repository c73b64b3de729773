import { spawn, type ChildProcess } from 'node:child_process';
import { compiledPath } from '../../../install-dir.js';
import type { RunAs } from '../run-as.js';
import { FileOpError, type FileOpFailure } from './file-op-error.js';
import { encodeFrame, FrameReader, type Frame } from './helper-protocol.js';
import { notStartedMessage, START_DEADLINE_MS } from '../timers.js';

const HELPER_MAIN = compiledPath('tiers/shared/files/helper-main.js');
/** V8 flags of the helper: a regular expression that backtracks too much is re-run by the linear engine where it can be. */
const NODE_FLAGS = ['--max-old-space-size=512', '--enable-experimental-regexp-engine-on-excessive-backtracks'];
/** A helper nobody used for this long exits (it is started again when needed). */
const IDLE_MS = 60_000;
/** Its stderr kept for the message when it dies. */
const STDERR_KEEP = 4096;

export interface HelperSpec {
  /** O_PATH descriptor of the workspace, as the helper must see it (passed as its fd 3). */
  rootFd: number;
  /** The workspace's absolute paths (symlink targets naming them stay inside). */
  workspacePaths: string[];
  /** Switch to this user before reading any request (a root daemon's isolated session); null: stay who the daemon is. */
  runAs: RunAs | null;
  /** How long a new helper may take to say it is ready (Node's start, its modules, the switch of user); START_DEADLINE_MS by default. */
  startDeadlineMs?: number;
}

/** The helper did not answer within its time bound and was killed. */
export class HelperTimeout extends Error {
  constructor(readonly ms: number) {
    super(`the files helper did not answer within ${ms} ms and was stopped`);
    this.name = 'HelperTimeout';
  }
}

type FrameHandler = (f: Frame) => void;

/**
 * The daemon's side of one files helper process (helper-main.ts): started
 * on first use, requests pipelined (it answers them in order), each answer
 * routed to its caller by id. A request with a time bound kills the helper
 * when it is not answered in time (a regular expression stuck on one line),
 * failing whatever else it had; the next request starts a fresh one. The
 * bound counts from the helper's readiness (its first frame): on a starved
 * machine a new helper's start alone can take seconds, which must not pass
 * for a pattern that never ends.
 */
export class FilesHelper {
  private child: ChildProcess | null = null;
  /** Resolves once the current child has said it is ready. */
  private ready: Promise<void> = Promise.resolve();
  private readonly handlers = new Map<number, { onFrame: FrameHandler; fail: (err: Error) => void }>();
  private nextId = 1;
  private idle: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly spec: HelperSpec) {}

  /** One request, one answer: resolves with the answer frame, rejects with a FileOpError (or HelperTimeout). */
  request(op: string, args: Record<string, unknown>, body?: Buffer, timeoutMs?: number): Promise<Frame> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      let settled = false;
      const ch = this.open(
        op,
        args,
        body,
        (f) => {
          if (f.header.ok === undefined) return;
          settled = true;
          ch.done();
          if (timer) clearTimeout(timer);
          if (f.header.ok === true) resolve(f);
          else reject(new FileOpError(f.header.failure as FileOpFailure));
        },
        (err) => {
          settled = true;
          if (timer) clearTimeout(timer);
          reject(err);
        },
      );
      if (timeoutMs !== undefined) {
        // Not once settled: answered, or failed with a helper that is gone (kill fails every request it had).
        void this.ready.then(() => {
          if (!settled) timer = setTimeout(() => this.kill(new HelperTimeout(timeoutMs)), timeoutMs);
        });
      }
    });
  }

  /**
   * A channel of frames with one id: the request, then whatever both sides
   * send under that id (stream chunks, watch events) until done().
   */
  open(op: string, args: Record<string, unknown>, body: Buffer | undefined, onFrame: FrameHandler, onFail: (err: Error) => void): HelperChannel {
    const child = this.ensure();
    const id = this.nextId++;
    this.handlers.set(id, { onFrame, fail: onFail });
    this.touch();
    const write = (header: Record<string, unknown>, data?: Buffer): boolean => (child.stdin!.writable ? child.stdin!.write(encodeFrame({ id, ...header }, data)) : false);
    write({ op, args }, body);
    return {
      id,
      send: write,
      drained: () => new Promise<void>((r) => (child.stdin!.writableNeedDrain ? child.stdin!.once('drain', () => r()) : r())),
      pause: () => child.stdout!.pause(),
      resume: () => child.stdout!.resume(),
      done: () => {
        this.handlers.delete(id);
        this.touch();
      },
    };
  }

  /** Stop the helper now; whatever waits on it fails with `why`. */
  kill(why: Error = new Error('the files helper was stopped')): void {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const waiting = [...this.handlers.values()];
    this.handlers.clear();
    for (const h of waiting) h.fail(why);
  }

  close(): void {
    this.closed = true;
    if (this.idle) clearTimeout(this.idle);
    this.kill();
  }

  private touch(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.handlers.size === 0) this.kill();
    }, IDLE_MS);
    this.idle.unref();
  }

  private ensure(): ChildProcess {
    if (this.closed) throw new Error('the session is ending: its files are closed');
    if (this.child) return this.child;
    const { runAs } = this.spec;
    const args = [...NODE_FLAGS, HELPER_MAIN, JSON.stringify(this.spec.workspacePaths), ...(runAs ? ['--uid', String(runAs.uid), '--gid', String(runAs.gid)] : [])];
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe', this.spec.rootFd], cwd: '/', env: { PATH: '/usr/bin:/bin' } });
    this.child = child;
    let becomeReady = (): void => undefined;
    this.ready = new Promise<void>((resolve) => (becomeReady = resolve));
    const deadline = this.spec.startDeadlineMs ?? START_DEADLINE_MS;
    const startTimer = setTimeout(() => {
      if (this.child === child) this.kill(new Error(notStartedMessage('the files helper', deadline)));
    }, deadline);
    startTimer.unref();
    const reader = new FrameReader();
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        if (this.child === child) this.kill(err as Error);
        return;
      }
      for (const f of frames) {
        if (f.header.ready === true) {
          clearTimeout(startTimer);
          becomeReady();
        } else this.handlers.get(f.header.id as number)?.onFrame(f);
      }
    });
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-STDERR_KEEP)));
    child.stdin!.on('error', () => undefined);
    child.on('error', (err) => {
      if (this.child === child) this.kill(new Error(`cannot start the files helper: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(startTimer);
      if (this.child !== child) return;
      this.kill(new Error(`the files helper exited (${signal ?? code})${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`));
    });
    return child;
  }
}

export interface HelperChannel {
  id: number;
  /** Send a frame under this channel's id; false when the pipe is full (await drained()). */
  send(header: Record<string, unknown>, body?: Buffer): boolean;
  drained(): Promise<void>;
  /** Stop and restart reading the helper's answers (a slow consumer of a stream). */
  pause(): void;
  resume(): void;
  /** No more frames expected. */
  done(): void;
}
