import { execFile } from 'node:child_process';
import { chmodSync, closeSync, constants, mkdtempSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import { FIFO_MOUNT } from './container.js';
import { fifoDirPrefix } from '../shared/fifo-pool.js';
import { SpawnError } from '../shared/spawn-error.js';
import { errorMessage } from '../shared/thrown.js';

const run = promisify(execFile);
const BATCH = 64;
const LOW_WATER = 16;
/** Written by the exec's wrapper once it holds the write end: the daemon may let go of its own. */
const MARKER_BYTES = 1;

/**
 * One exec's control pipe. The exec's wrapper (exec.ts) opens it,
 * writes a marker byte, hands it to the shell as fd 3 for the state capture,
 * and when the shell has exited appends a trailer: \x01, the exit status, \x04.
 * The trailer tells the exit at once: the engine reports an exec's exit only
 * after its output streams close, up to 2 s late while a background process
 * holds them, and serialises the exits of one container.
 */
export interface ControlChannel {
  containerPath: string;
  /** What the shell wrote on fd 3 (cwd, NUL, `export -p`), emitted whole at the trailer (or EOF). */
  state: Readable;
  /** Resolves when the wrapper runs (its marker arrived): the exec's process exists. */
  started: Promise<void>;
  /** The exit status from the trailer; null when the wrapper wrote none (killed, or never ran). */
  exitCode: Promise<number | null>;
  /** Close the daemon's ends and unlink the FIFO (idempotent). */
  release(): void;
}

// eslint-disable-next-line no-control-regex -- the trailer is framed by control bytes on purpose (output cannot hold them there)
/** \x01, the exit status in decimal, \x04: written last, after the shell has exited. */
const TRAILER = /\x01(\d{1,3})\x04$/;

/** Split what came through the pipe into the state and the trailer's exit status (null: no trailer). */
export function parseControl(raw: Buffer): { state: Buffer; exitCode: number | null } {
  const m = TRAILER.exec(raw.subarray(Math.max(0, raw.length - 5)).toString('latin1'));
  if (!m) return { state: raw, exitCode: null };
  return { state: raw.subarray(0, raw.length - m[0].length), exitCode: Number(m[1]) };
}

/**
 * The control FIFOs of one container. Over `docker exec` there is no fd 3 to
 * inherit, and the state holds environment values, so it must never be
 * written to a file: the daemon makes FIFOs in a host directory bind-mounted
 * into the container at FIFO_MOUNT, and each exec's wrapper opens one. The
 * directory is 0711 and each FIFO 0666 with a random name: any container user
 * can open the FIFO it is told about (in its exec's environment, which other
 * users cannot read), and no one else can find one. The directory carries the
 * daemon instance id (fifoDirPrefix), so a successor removes what a crashed
 * daemon left. FIFOs are made ahead in batches by one `mkfifo` call; they
 * never hold data on disk.
 */
export class FifoDir {
  private ready: string[] = [];
  private refilling: Promise<void> | null = null;
  private closed = false;

  private constructor(readonly dir: string) {}

  static async create(instanceId: string): Promise<FifoDir> {
    const dir = mkdtempSync(join(tmpdir(), fifoDirPrefix(instanceId)));
    try {
      chmodSync(dir, 0o711);
      const fifos = new FifoDir(dir);
      await fifos.refill();
      return fifos;
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`cannot create control FIFOs in ${dir} (${errorMessage(err)}): install coreutils (mkfifo) and check that the temp directory is writable`, { cause: err });
    }
  }

  /**
   * Open a FIFO for one exec. The read end is opened non-blocking, and the
   * daemon also holds a write end until the wrapper has opened its own (its
   * marker byte arrives): a FIFO with no writer reads as EOF at once.
   */
  async open(): Promise<ControlChannel> {
    // Concurrent opens may share one batch: wait for another if it ran dry.
    let name = this.ready.pop();
    while (name === undefined) {
      name = this.ready.pop();
      if (this.closed) throw new SpawnError('the session container is gone (destroyed)', 'ESRCH');
      try {
        await this.refill();
      } catch (err) {
        throw new SpawnError(`cannot make control FIFOs in ${this.dir} (${errorMessage(err)}): check that the temp directory is writable and not full`, 'EFIFO');
      }
    }
    if (this.ready.length < LOW_WATER) void this.refill().catch(() => undefined);
    const path = join(this.dir, name);
    let readFd: number;
    let holdFd: number | null;
    try {
      readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw new SpawnError(`cannot open the control FIFO ${path}: ${errorMessage(err)}`, 'EFIFO');
    }
    try {
      holdFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      closeSync(readFd);
      throw new SpawnError(`cannot open the control FIFO ${path}: ${errorMessage(err)}`, 'EFIFO');
    }
    let linked = true;
    const letGo = () => {
      if (holdFd !== null) closeSync(holdFd);
      holdFd = null;
      if (linked) {
        linked = false;
        try {
          unlinkSync(path);
        } catch {
          /* the directory went with the container */
        }
      }
    };
    const socket = new Socket({ fd: readFd, readable: true, writable: false });
    const state = new PassThrough();
    let resolveExit!: (code: number | null) => void;
    const exitCode = new Promise<number | null>((r) => (resolveExit = r));
    let resolveStarted!: () => void;
    const started = new Promise<void>((r) => (resolveStarted = r));
    const chunks: Buffer[] = [];
    let skip = MARKER_BYTES;
    let done = false;
    /** Hand over the state and the status: at the trailer, or at EOF without one (the wrapper was killed). */
    const finish = (atEof: boolean) => {
      if (done) return;
      const parsed = parseControl(Buffer.concat(chunks));
      if (!atEof && parsed.exitCode === null) return;
      done = true;
      chunks.length = 0;
      if (parsed.state.length > 0) state.write(parsed.state);
      state.end();
      resolveExit(parsed.exitCode);
      // Whatever comes after the trailer (a background process that kept fd 3) means nothing.
      if (!atEof) socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length);
        skip -= n;
        chunk = chunk.subarray(n);
        // The wrapper holds its write end now, and opened the FIFO by name: the name can go.
        if (skip === 0) {
          letGo();
          resolveStarted();
        }
      }
      if (chunk.length === 0) return;
      chunks.push(chunk);
      if (chunk[chunk.length - 1] === 0x04) finish(false);
    });
    socket.once('end', () => finish(true));
    socket.once('error', () => finish(true));
    socket.once('close', () => finish(true));
    return {
      containerPath: `${FIFO_MOUNT}/${name}`,
      state,
      started,
      exitCode,
      // With the daemon's write end closed, the read end reaches EOF once the wrapper's is gone
      // (at once if it never opened it); what it wrote is still read first.
      release: letGo,
    };
  }

  private refill(): Promise<void> {
    if (this.refilling) return this.refilling;
    const names = Array.from({ length: BATCH }, () => randomBytes(12).toString('hex'));
    this.refilling = run('mkfifo', ['-m', '666', ...names.map((n) => join(this.dir, n))])
      .then(() => {
        if (!this.closed) this.ready.push(...names);
      })
      .finally(() => (this.refilling = null));
    return this.refilling;
  }

  /** Remove the directory and every FIFO in it. */
  remove(): void {
    this.closed = true;
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 });
    } catch {
      /* FIFOs hold no data; the next daemon's reap removes a leftover directory */
    }
  }
}
