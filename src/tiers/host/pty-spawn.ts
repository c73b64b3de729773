import { PassThrough, Writable, type Readable } from 'node:stream';
import { signalName } from '../shared/signals.js';
import { drainPipeNow } from './pipe-drain.js';
import type { ExitStatus, SpawnedProcess } from '../tier.js';
import { asError } from '../shared/thrown.js';

type NodePty = typeof import('@lydell/node-pty');
let ptyModule: NodePty | null = null;

/** node-pty is loaded on first use: daemons that never open a terminal do not pay for it. */
async function loadPty(): Promise<NodePty> {
  ptyModule ??= await import('@lydell/node-pty');
  return ptyModule;
}

/** After the input's end, how long the output must be quiet before another ^D, and how many at most. */
const EOF_QUIET_MS = 200;
const MAX_EOFS = 20;

/**
 * Spawn under a pseudo-terminal (@lydell/node-pty, prebuilt binaries). The
 * child is a session leader with the terminal as its controlling tty; its
 * output (stdout and stderr alike) arrives as raw bytes on `stdout`.
 */
export async function spawnPty(file: string, args: string[], opts: { cwd: string; env: Record<string, string>; cols: number; rows: number }): Promise<SpawnedProcess> {
  const pty = await loadPty();
  const term = pty.spawn(file, args, {
    name: opts.env.TERM ?? 'xterm-256color',
    cols: opts.cols,
    rows: opts.rows,
    cwd: opts.cwd,
    env: opts.env,
    encoding: null,
  });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stderr.end();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    stdout.end();
  };
  term.onData((d: Buffer | string) => {
    if (ended) return;
    stdout.write(typeof d === 'string' ? Buffer.from(d) : d);
  });
  const internals = term as unknown as { _fd?: number; _socket?: Readable };
  const socket = internals._socket;
  /** Take what the terminal holds right now (pipe-drain.ts). */
  const drain = (): void => {
    if (!ended && socket) drainPipeNow(socket, internals._fd, (chunk) => stdout.write(chunk));
  };
  /**
   * node-pty reports an exit only once the terminal's master side has closed (EIO: every byte read), or
   * 200 ms after the exit, when it destroys the master itself: a background process may hold the terminal
   * open, and a busy reader may not have read the last of the output by then. Its destroy closes the
   * descriptor with those bytes unread: drain them first.
   */
  if (socket) {
    const destroy = socket.destroy.bind(socket);
    socket.destroy = (error?: Error) => {
      drain();
      return destroy(error);
    };
  }
  let exitSeen = false;
  socket?.once('close', () => {
    if (exitSeen) end();
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      eofPending = false;
      if (eofTimer) clearTimeout(eofTimer);
      exitSeen = true;
      // node-pty reports the exit once the master side has closed (above): the output is complete. Should a
      // version report it with the master still open, the output ends when it closes, at the latest after 2 s.
      if (!socket || socket.destroyed) end();
      else
        setTimeout(() => {
          drain();
          end();
        }, 2000).unref();
      const sig = signalName(signal ?? 0);
      resolve({ code: sig ? null : exitCode, signal: sig });
    });
  });
  // A terminal has no end of input of its own: its end is ^D, typed at a prompt, as a person would. A ^D
  // that arrives while the program is still busy with earlier input can be eaten (a line editor
  // switching modes), so once the input has ended one is sent whenever the output falls quiet, until
  // the program exits: the terminal's way of saying "no more", as ssh -t does.
  let eofPending = false;
  let eofsSent = 0;
  let eofTimer: NodeJS.Timeout | null = null;
  const sendEof = () => {
    if (ended || !eofPending || eofsSent >= MAX_EOFS) return;
    try {
      term.write('\x04');
      eofsSent++;
    } catch {
      return; // already gone
    }
    eofTimer ??= setTimeout(function again() {
      eofTimer = null;
      sendEof();
    }, EOF_QUIET_MS);
  };
  term.onData(() => eofTimer?.refresh());
  const stdin = new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        term.write(chunk as unknown as string); // node-pty writes a Buffer as is (its typings say string only)
        cb();
      } catch (err) {
        cb(asError(err));
      }
    },
    final(cb) {
      eofPending = true;
      sendEof();
      cb();
    },
  });
  return {
    pid: term.pid,
    stdin,
    stdout,
    stderr,
    state: null,
    exited,
    resize: (cols, rows) => term.resize(cols, rows),
  };
}
