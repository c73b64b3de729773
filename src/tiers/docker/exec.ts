import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable, type Duplex, type Readable } from 'node:stream';
import type { Program } from '../tier.js';
import { splitOutput } from './demux.js';
import { engineMessage, isGone } from './engine-errors.js';
import type { EngineEvents } from './engine-events.js';
import { SpawnError } from '../shared/spawn-error.js';

/** Poll for the exit while the event stream is down; while it is up, only as a backstop. */
const FAST_POLL_MS = 50;
const SLOW_POLL_MS = 5000;
/** Consecutive failed inspections (engine gone) after which an exec counts as lost. */
const MAX_FAILURES = 100;
/**
 * How long after an exit the engine's own report of it (`exec_die`) may still
 * come: the engine waits up to 2 s for the exec's output streams to close (a
 * background process may hold them) before it reports the exit.
 */
export const ENGINE_REPORT_MS = 2500;
const EOT = '\x04';

export interface ExecRequest {
  argv: string[];
  /** `KEY=value` entries: sent in the exec's body only, never part of the container. */
  env: string[];
  cwd: string;
  user: string;
  stdin: boolean;
  tty: { cols: number; rows: number } | null;
  /** Attach nothing: the exec reports through its control FIFO only (the kill exec). */
  detach?: boolean;
  /** The end marker the wrapper writes after the program (execArgv's endMarker): each output stream ends there. */
  endMarker?: string;
  /** The control FIFO's path in the container: passed to the wrapper in its environment (CTL_VAR), never in its argv. */
  controlFifo: string;
}

/**
 * The variable that tells the wrapper its control FIFO. Not an argument: any
 * user of the engine's host can read a process's argv (/proc/PID/cmdline),
 * and the FIFO carries the shell's state, secrets included; a process's
 * environment only its own user can read. The wrapper unsets it first.
 */
export const CTL_VAR = '__TRL_CTL';

export interface ExecRun {
  stdin: Writable | null;
  stdout: Readable;
  stderr: Readable;
  /** The main process's exit code; null when the engine lost the exec (container removed, engine gone). */
  exitCode: Promise<number | null>;
  /** Something suggests the main process exited (a stream ended): ask the engine now. */
  poke(): void;
  /** The exit is known otherwise: stop asking the engine (exitCode resolves to null if still pending). */
  stopWatching(): void;
  /**
   * Resolves once the engine's event stream has reported the exit (`exec_die`),
   * or ENGINE_REPORT_MS after the exit is known when it does not (stream down,
   * exec lost). The engine delivers a container's events in order, so the
   * events of everything that happened in the container before this exec
   * exited (its OOM kills) have arrived by then.
   */
  reported: Promise<void>;
  /**
   * Resolves once both output streams have ended — at the end marker, or with
   * the connection — or, ending them there and then, once the connection has
   * been quiet for `quietMs` or `capMs` of unpaused time have passed (a
   * wrapper that was killed writes no marker, and a background process may
   * hold the connection open). Time the runtime holds the output paused for a
   * slow reader does not count: nothing that is only waiting is dropped.
   * Then the connection is closed.
   */
  outputEnded(quietMs: number, capMs: number): Promise<void>;
  /** Resize the terminal; resolves once the engine has answered: whether it took the size. */
  resize(cols: number, rows: number): Promise<boolean>;
}

/**
 * The wrapper every command runs under (POSIX sh, constant; parameters are
 * arguments): control FIFO on fd 4, the image's extra variables unset, the
 * program in a subshell with the real stderr (fd 3 on the FIFO for the state
 * capture), then the end marker on its streams and the exit status as the
 * trailer. It assigns no variable before the program runs and waits through
 * terminal signals (design: docs/docker-tier.md, "A command is an exec").
 *
 *   $0 trl-exec  $1 state|tty|- (then `:` and the end marker, if any)  $2 names to unset  $3… the program's argv
 */
export const WRAPPER_SCRIPT = [
  'trap : HUP INT QUIT TERM USR1 USR2 ALRM',
  `exec 4>"$${CTL_VAR}" || { echo "trl: cannot open the control FIFO $${CTL_VAR}: is its directory mounted?" >&2; exit 125; }`,
  `unset ${CTL_VAR}`,
  'exec 5>&2 2>/dev/null',
  'printf . >&4',
  '[ -z "$2" ] || unset $2',
  // A terminal gets its size by a resize call once the exec runs (API 1.41 has no size at create):
  // wait a moment for it, so the program's first look at the size is right.
  'case $1 in tty*) if command -v stty >/dev/null; then (i=0; while [ $i -lt 50 ]; do case $(stty size 2>/dev/null) in "" | "0 "* | *" 0") sleep 0.01 || break ;; *) break ;; esac; i=$((i + 1)); done); fi ;; esac',
  'case $1 in state*) (shift 2; exec 3>&4 2>&5 4>&- 5>&-; exec "$@") ;; *) (shift 2; exec 2>&5 4>&- 5>&-; exec "$@") ;; esac',
  's=$?',
  // The end marker: on stdout and the real stderr; under a TTY both are the terminal, so once.
  'case $1 in *:?*) printf %s "${1#*:}"; case $1 in tty:*) ;; *) printf %s "${1#*:}" >&5 ;; esac ;; esac',
  'printf \'\\001%s\\004\' "$s" >&4',
  'exit "$s"',
].join('\n');

/** The argv of one exec: the program under the wrapper. */
export function execArgv(program: Program, opts: { state: boolean; tty?: boolean; endMarker?: string; unset: string[] }): string[] {
  const argv = program.kind === 'shell' ? [program.shell, '-c', program.script] : program.argv;
  const mode = opts.state ? 'state' : opts.tty ? 'tty' : '-';
  return ['/bin/sh', '-c', WRAPPER_SCRIPT, 'trl-exec', opts.endMarker ? `${mode}:${opts.endMarker}` : mode, opts.unset.join(' '), ...argv];
}

/**
 * A fresh end marker for one command: 24 random hex digits (96 bits, so no
 * output hits it by accident). Upper case, no CR or LF: a terminal's output
 * processing (onlcr, olcuc) passes it unchanged.
 */
export function newEndMarker(): string {
  return randomBytes(12).toString('hex').toUpperCase();
}

/** Names that are safe to hand to `unset` unquoted. */
export function unsettable(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/**
 * Start one exec and attach to it: stdout and stderr demultiplexed (or one raw
 * stream under a TTY), each ended at the end marker when one is given, stdin
 * attached when asked, and the exit code from the engine's `exec_die` event,
 * an inspection when a stream ends, or a poll. A TTY is sized by `resize`
 * (API 1.41 has no size at create): the caller sends the first one.
 */
export async function startExec(container: Docker.Container, req: ExecRequest, events: EngineEvents): Promise<ExecRun> {
  const tty = req.tty !== null;
  const attach = !req.detach;
  const attachStdin = attach && (req.stdin || tty);
  let exec: Docker.Exec;
  try {
    exec = await container.exec({
      Cmd: req.argv,
      // Last, so that it wins over a session variable of the same name.
      Env: [...req.env, `${CTL_VAR}=${req.controlFifo}`],
      WorkingDir: req.cwd,
      User: req.user,
      Tty: tty,
      AttachStdin: attachStdin,
      AttachStdout: attach,
      AttachStderr: attach,
    });
  } catch (err) {
    throw new SpawnError(`docker exec in container ${container.id.slice(0, 12)} failed: ${withoutValues(engineMessage(err), req.env)}`, isGone(err) ? 'ESRCH' : 'EDOCKER');
  }
  const watch = watchExit(exec, events);
  let sock: Duplex | null = null;
  try {
    if (attach) sock = await exec.start({ hijack: true, stdin: attachStdin, Detach: false, Tty: tty });
    // A detached start still answers with a (empty) response stream: read it, or its connection stays open.
    else (await exec.start({ Detach: true, Tty: false })).resume();
  } catch (err) {
    watch.cancel();
    throw new SpawnError(`docker exec start failed: ${withoutValues(engineMessage(err), req.env)}`, isGone(err) ? 'ESRCH' : 'EDOCKER');
  }
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const watching = { exitCode: watch.exitCode, poke: watch.poke, stopWatching: watch.cancel, reported: watch.reported };
  if (!sock) {
    stdout.end();
    stderr.end();
    return { ...watching, stdin: null, stdout, stderr, outputEnded: () => Promise.resolve(), resize: () => Promise.resolve(false) };
  }
  const split = splitOutput(sock, stdout, stderr, { tty, marker: req.endMarker ? Buffer.from(req.endMarker, 'latin1') : null });
  sock.once('end', watch.poke);
  sock.once('close', watch.poke);
  sock.on('error', () => undefined); // a reset connection ends the streams (splitOutput) and is seen by the watcher
  const outputEnded = async (quietMs: number, capMs: number): Promise<void> => {
    await split.endWhenQuiet(quietMs, capMs);
    // The command's output is complete: a background process that still holds the streams keeps
    // no connection (and no descriptor) of the daemon's open; it gets EPIPE, as on the host tier.
    sock.destroy();
  };
  const resize = (cols: number, rows: number): Promise<boolean> =>
    exec.resize({ h: rows, w: cols }).then(
      () => true,
      () => false,
    );
  return { ...watching, stdin: attachStdin ? stdinWriter(sock, tty) : null, stdout, stderr, outputEnded, resize };
}

/**
 * An engine message with the exec's environment values blanked out, in case it
 * quotes a rejected entry (values under 4 characters hold no secret, and
 * blanking them would garble the message).
 */
export function withoutValues(message: string, env: string[]): string {
  let out = message;
  for (const entry of env) {
    const value = entry.slice(entry.indexOf('=') + 1);
    if (value.length < 4) continue;
    // As given, and as the engine may quote it (Go's %q, JSON): escaped quotes, backslashes, control characters.
    for (const form of new Set([value, JSON.stringify(value).slice(1, -1)])) out = out.split(form).join('[REDACTED]');
  }
  return out;
}

/**
 * The command's stdin over the hijacked connection. Its end half-closes the
 * connection, which the engine turns into EOF on the process's stdin; a
 * terminal has no EOF of its own, so there it types ^D, as a person would.
 */
function stdinWriter(sock: Duplex, tty: boolean): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (sock.destroyed || sock.writableEnded) return cb();
      sock.write(chunk, (err) => cb(err ?? null));
    },
    final(cb) {
      if (!sock.destroyed && !sock.writableEnded) {
        if (tty) sock.write(EOT);
        else sock.end();
      }
      cb();
    },
  });
}

interface ExitWatch {
  exitCode: Promise<number | null>;
  reported: Promise<void>;
  poke: () => void;
  cancel: () => void;
}

function watchExit(exec: Docker.Exec, events: EngineEvents): ExitWatch {
  let resolve!: (code: number | null) => void;
  const exitCode = new Promise<number | null>((r) => (resolve = r));
  let resolveReported!: () => void;
  const reported = new Promise<void>((r) => (resolveReported = r));
  let done = false;
  let inFlight = false;
  let again = false;
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;
  let linger: NodeJS.Timeout | null = null;
  const finish = (code: number | null) => {
    if (done) return;
    done = true;
    if (timer) clearTimeout(timer);
    resolve(code);
    // Known from the trailer or an inspection: the engine's exec_die may still be on its way.
    // Keep listening for it a while (for `reported`), without polling.
    linger = setTimeout(engineReported, ENGINE_REPORT_MS);
    linger.unref();
  };
  const engineReported = () => {
    if (linger) clearTimeout(linger);
    unsubscribe();
    resolveReported();
  };
  const check = async (): Promise<void> => {
    if (done) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      const info = await exec.inspect();
      failures = 0;
      if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) finish(info.ExitCode);
    } catch (err) {
      if (isGone(err) || ++failures >= MAX_FAILURES) finish(null);
    } finally {
      inFlight = false;
    }
    if (again && !done) {
      again = false;
      await check();
    }
  };
  const schedule = () => {
    if (done) return;
    timer = setTimeout(() => void check().then(schedule), events.connected ? SLOW_POLL_MS : FAST_POLL_MS);
  };
  const poke = () => void check();
  const unsubscribe = events.onExecDie(exec.id, {
    died: (code) => {
      finish(code);
      engineReported();
    },
    recheck: poke,
  });
  schedule();
  return { exitCode, reported, poke, cancel: () => finish(null) };
}
