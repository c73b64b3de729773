/**
 * A real trl daemon for a test: `trl serve` on a Unix socket in a fresh
 * directory, its output captured, stopped cleanly afterwards. No mocks:
 * everything drives the built daemon (dist/trl/trl.js, the bundle `npm start` runs).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { defaultSocketPath } from '../../src/protocol/transport.js';
import { DEADLINE_MS, waitFor } from './wait.js';

/** This file is compiled to dist/test/helpers/daemon.js: three levels below the repo root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const MAIN_JS = path.join(REPO_ROOT, 'dist', 'trl', 'trl.js');

/** How long a daemon may take to listen: a start-up on a starved machine, not a figure of speed. */
/** A daemon starts once its default tier's health check has passed: the docker tier's may take DOCKER_HEALTH_TIMEOUT_S in tests. */
const LISTEN_DEADLINE_MS = 330_000;
/** SIGKILL a daemon that has not exited this long after SIGTERM (the test then fails on its exit code). */
const STOP_DEADLINE_MS = 30_000;
/** After the exit, how long its stdout/stderr may stay open (held by a process it left behind). */
const PIPES_DEADLINE_MS = 5_000;

export interface StartOptions {
  /** Extra daemon flags, appended after the defaults. */
  flags?: string[];
  /** Extra environment of the daemon (on top of this process's env minus TRL_*). */
  env?: Record<string, string>;
  /** Socket path to use instead of `<dir>/trl.sock`; `null` = pass no --socket-path at all. */
  socketPath?: string | null;
  /** Reuse an existing directory instead of creating a fresh one. */
  dir?: string;
  /** Do not wait for the socket (for daemons expected to refuse to start). */
  noWait?: boolean;
  /** Run the daemon as this uid (and gid), through setpriv; the test must run as root. */
  uid?: number;
  /** Pass --allow-root (default true: CI runs as root). */
  allowRoot?: boolean;
  /**
   * Shell commands run before the daemon, which then replaces the shell (same
   * pid): for settings a Node process cannot give itself, e.g. `ulimit -n 128`.
   */
  prelude?: string;
}

export interface Daemon {
  socketPath: string;
  dir: string;
  proc: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Everything the daemon printed, stdout then stderr. */
  logs(): string;
  /** Resolves with the exit code (null if killed by a signal) once the process has exited and its output is read. */
  exited: Promise<number | null>;
  hasExited(): boolean;
  /** Send `signal` (SIGTERM), wait for the exit (SIGKILL after 30 s), return the exit code. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** stop() then remove the directory (unless given by the caller). */
  dispose(): Promise<void>;
  /** stop(); assert exit code 0 and no socket left; remove the directory. For `after` hooks. */
  shutdownClean(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export function makeTempDir(prefix = '/tmp/trl-test-'): string {
  const dir = fs.mkdtempSync(prefix);
  fs.chmodSync(dir, 0o700);
  return dir;
}

/** This process's environment without TRL_* settings (TRL_REQUIRE_TIERS stays), plus `extra`. */
export function cleanEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('TRL_') && k !== 'TRL_REQUIRE_TIERS') continue;
    env[k] = v;
  }
  return { ...env, ...(extra ?? {}) };
}

/** True once something accepts connections on the socket. */
export function canConnect(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** True once the daemon accepts connections on its socket; false if it exited or the deadline passed. */
export async function listening(d: Pick<Daemon, 'socketPath' | 'hasExited'>, timeoutMs = LISTEN_DEADLINE_MS): Promise<boolean> {
  await waitFor(async () => d.hasExited() || (fs.existsSync(d.socketPath) && (await canConnect(d.socketPath))), timeoutMs, 25);
  return !d.hasExited() && fs.existsSync(d.socketPath) && (await canConnect(d.socketPath));
}

/**
 * The exit code once `proc` has exited and its stdout/stderr are read to the
 * end (the 'close' event), so that the captured logs are complete. Should a
 * process it left behind hold those pipes open, the code comes anyway after
 * PIPES_DEADLINE_MS.
 */
export function exitOf(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    proc.once('close', (code: number | null) => resolve(code));
    proc.once('exit', (code) => setTimeout(() => resolve(code), PIPES_DEADLINE_MS).unref());
  });
}

export async function startDaemon(opts: StartOptions = {}): Promise<Daemon> {
  if (!fs.existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} does not exist: run \`npm run build\` first`);
  const dir = opts.dir ?? makeTempDir();
  const env = cleanEnv(opts.env);
  const socketPath = opts.socketPath === null ? defaultSocketPath(env) : opts.socketPath === undefined ? path.join(dir, 'trl.sock') : opts.socketPath;
  const args = [...NODE_FLAGS, MAIN_JS, 'serve'];
  if (opts.socketPath !== null) args.push('--socket-path', socketPath);
  if (opts.allowRoot !== false) args.push('--allow-root');
  args.push('--log-level', 'debug', ...(opts.flags ?? []));
  // Isolated tiers cost a health check (a sandbox, a container) at every start: only where a test asks.
  const tiersGiven = (opts.flags ?? []).includes('--tiers') || opts.env?.TRL_TIERS !== undefined;
  if (!tiersGiven) args.push('--tiers', 'host');
  // Isolated sessions' workspaces: the tests make them under the temp directory (tierWorkspace).
  const rootsGiven = (opts.flags ?? []).includes('--workspace-roots') || opts.env?.TRL_WORKSPACE_ROOTS !== undefined;
  if (!rootsGiven) args.push('--workspace-roots', fs.realpathSync(os.tmpdir()));
  if (opts.uid !== undefined) fs.chownSync(dir, opts.uid, opts.uid);
  let [file, argv] = opts.uid === undefined ? [process.execPath, args] : ['setpriv', [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', '--', process.execPath, ...args]];
  if (opts.prelude !== undefined) [file, argv] = ['/bin/sh', ['-c', `${opts.prelude} && exec "$@"`, 'sh', file, ...argv]];
  const proc = spawn(file, argv, {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => (out += d));
  proc.stderr!.on('data', (d: string) => (err += d));
  let exitCode: number | null | undefined;
  proc.once('exit', (code) => {
    exitCode = code;
    live.delete(proc);
  });
  const exited = exitOf(proc);
  const hasExited = () => exitCode !== undefined;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (!hasExited()) {
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), STOP_DEADLINE_MS);
      const code = await exited;
      clearTimeout(t);
      return code;
    }
    return exited;
  };
  const d: Daemon = {
    socketPath,
    dir,
    proc,
    pid: proc.pid!,
    stdout: () => out,
    stderr: () => err,
    logs: () => out + err,
    exited,
    hasExited,
    stop,
    dispose: async () => {
      await stop();
      if (opts.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
    },
    shutdownClean: async () => {
      const already = hasExited();
      const code = await stop();
      const socketLeft = fs.existsSync(socketPath);
      if (opts.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
      if (already) return; // a test stopped it and checked it already
      assert.equal(code, 0, `the daemon exited with code ${String(code)} on SIGTERM; log tail:\n${err.slice(-1500)}`);
      assert.equal(socketLeft, false, 'the daemon left its socket behind on SIGTERM');
    },
  };
  if (opts.noWait) return d;
  if (await listening(d)) return d;
  if (hasExited()) {
    await exited;
    throw new Error(`the daemon exited with code ${String(exitCode)} before listening on ${socketPath}.\nstderr:\n${err}\nstdout:\n${out}`);
  }
  // SIGTERM first so that a daemon listening somewhere else removes its socket
  await stop();
  throw new Error(`the daemon did not listen on ${socketPath} within ${LISTEN_DEADLINE_MS / 1000} s.\nstderr:\n${err}\nstdout:\n${out}`);
}

/** The daemon's exit code once it exits, or 'timeout' if it is still running after ms (a deadline). */
export async function exitWithin(d: Pick<Daemon, 'exited'>, ms = DEADLINE_MS): Promise<number | null | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  const r = await Promise.race([d.exited, new Promise<'timeout'>((res) => (t = setTimeout(() => res('timeout'), ms)))]);
  clearTimeout(t);
  return r;
}

/** JSON log lines of the daemon (pino: one object per line), parsed; other lines are skipped. */
export function logEntries(d: Pick<Daemon, 'logs'>): Array<Record<string, any>> {
  const out: Array<Record<string, any>> = [];
  for (const line of d.logs().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, any>);
    } catch {
      /* a partial line */
    }
  }
  return out;
}
