/**
 * Test harness: start a real trl daemon on a real Unix socket, talk to it with
 * the SDK or a raw NDJSON connection, and inspect the process table.
 * No mocks: everything here drives the compiled daemon (dist/src/cli/main.js).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { TrlClient } from '../../src/client/client.js';
import { TrlClientError } from '../../src/client/client-error.js';
import { defaultSocketPath } from '../../src/protocol/transport.js';

export { TrlClient, TrlClientError };

/** This file is compiled to dist/test/helpers/daemon.js: three levels below the repo root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const MAIN_JS = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

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
  /** Resolves with the exit code (null if killed by a signal) once the process has exited. */
  exited: Promise<number | null>;
  hasExited(): boolean;
  /** SIGTERM, wait for exit (SIGKILL after 20 s), return the exit code. Idempotent. */
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

function cleanEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
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

export async function startDaemon(opts: StartOptions = {}): Promise<Daemon> {
  if (!fs.existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} does not exist: run \`npm run build\` first`);
  const dir = opts.dir ?? makeTempDir();
  const env = cleanEnv(opts.env);
  const socketPath =
    opts.socketPath === null ? defaultSocketPath(env) : opts.socketPath === undefined ? path.join(dir, 'trl.sock') : opts.socketPath;
  const args = ['--max-semi-space-size=1', MAIN_JS, 'serve'];
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
  const [file, argv] =
    opts.uid === undefined
      ? [process.execPath, args]
      : ['setpriv', [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', '--', process.execPath, ...args]];
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
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => {
      exitCode = code;
      live.delete(proc);
      // let the pipes drain so the captured logs are complete
      setTimeout(() => resolve(code), 50);
    });
  });
  const hasExited = () => exitCode !== undefined;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (!hasExited()) {
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
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
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (hasExited()) {
      await exited;
      throw new Error(`the daemon exited with code ${String(exitCode)} before listening on ${socketPath}.\nstderr:\n${err}\nstdout:\n${out}`);
    }
    if (fs.existsSync(socketPath) && (await canConnect(socketPath))) return d;
    if (Date.now() > deadline) {
      // SIGTERM first so that a daemon listening somewhere else removes its socket
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
      throw new Error(`the daemon did not listen on ${socketPath} within 10 s.\nstderr:\n${err}\nstdout:\n${out}`);
    }
    await sleep(25);
  }
}

// ---------------------------------------------------------------- clients

export function connect(d: Daemon | string): Promise<TrlClient> {
  return TrlClient.connect({ socketPath: typeof d === 'string' ? d : d.socketPath });
}

/** Call a method that must fail; returns the error (asserting it is a protocol error). */
export async function callErr(c: TrlClient, method: string, params?: Record<string, unknown>): Promise<TrlClientError> {
  let data: unknown;
  try {
    data = await c.call(method, params ?? {});
  } catch (e) {
    if (e instanceof TrlClientError) return e;
    throw e;
  }
  assert.fail(`${method} ${JSON.stringify(params)} succeeded but an error was expected; data: ${JSON.stringify(data)}`);
}

/** Call a method that must fail with `code`; returns the error for further checks. */
export async function expectCode(c: TrlClient, method: string, params: Record<string, unknown>, code: string): Promise<TrlClientError> {
  const e = await callErr(c, method, params);
  assert.equal(e.code, code, `${method} ${JSON.stringify(params).slice(0, 300)}: expected ${code}, got ${e.code}: ${e.message}`);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0, 'error message must not be empty');
  return e;
}

/** Long-poll exec.output until `text` shows up on stdout; returns everything read. */
export async function waitForOutput(c: TrlClient, command_id: string, text: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let all = '';
  let offset = 0;
  while (!all.includes(text)) {
    const left = deadline - Date.now();
    if (left <= 0) assert.fail(`${JSON.stringify(text)} did not appear within ${timeoutMs} ms; output: ${JSON.stringify(all)}`);
    const o = await c.call('exec.output', { command_id, offset, wait_ms: Math.min(left, 1000) });
    all += o.data;
    offset = o.next_offset;
    if (o.eof && !all.includes(text)) assert.fail(`the command ended without printing ${JSON.stringify(text)}; output: ${JSON.stringify(all)}`);
  }
  return all;
}

export interface RawLine {
  id?: unknown;
  ok?: boolean;
  data?: any;
  error?: { code: string; message: string; details?: any };
  [k: string]: unknown;
}

export interface RawConnection {
  socket: net.Socket;
  /** Write one line: an object is JSON-encoded; a string is sent as is; a newline is appended. */
  send(msg: unknown): void;
  /** Write raw bytes, no newline added. */
  write(data: string | Buffer): void;
  /** The next line from the daemon, parsed (rejects on close or timeout). */
  next(timeoutMs?: number): Promise<RawLine>;
  /** The next line, unparsed. */
  nextRaw(timeoutMs?: number): Promise<string>;
  /** Every raw line received so far. */
  received: string[];
  /** Resolves when the daemon closed the connection (rejects after timeoutMs). */
  waitClosed(timeoutMs?: number): Promise<void>;
  isClosed(): boolean;
  close(): void;
}

export function rawConnect(socketPath: string): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const lines: string[] = [];
    const received: string[] = [];
    const waiters: Array<() => void> = [];
    let buf = '';
    let closed = false;
    let closedResolve!: () => void;
    const closedP = new Promise<void>((r) => (closedResolve = r));
    const wake = () => {
      for (const w of waiters.splice(0)) w();
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        received.push(line);
      }
      wake();
    });
    socket.on('error', () => {
      /* surfaces as close */
    });
    socket.on('close', () => {
      closed = true;
      closedResolve();
      wake();
    });
    socket.once('connect', () => {
      const nextRaw = async (timeoutMs = 10_000): Promise<string> => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const l = lines.shift();
          if (l !== undefined) return l;
          if (closed) throw new Error('the daemon closed the connection before sending a line');
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`no line from the daemon within ${timeoutMs} ms`);
          await new Promise<void>((r) => {
            const t = setTimeout(r, left);
            waiters.push(() => {
              clearTimeout(t);
              r();
            });
          });
        }
      };
      resolve({
        socket,
        received,
        send: (msg) => socket.write((typeof msg === 'string' ? msg : JSON.stringify(msg)) + '\n'),
        write: (data) => socket.write(data),
        nextRaw,
        next: async (timeoutMs) => {
          const l = await nextRaw(timeoutMs);
          try {
            return JSON.parse(l) as RawLine;
          } catch {
            throw new Error(`the daemon sent a line that is not JSON: ${l.slice(0, 500)}`);
          }
        },
        waitClosed: async (timeoutMs = 5000) => {
          let t: NodeJS.Timeout | undefined;
          try {
            await Promise.race([
              closedP,
              new Promise<never>((_, rej) => {
                t = setTimeout(() => rej(new Error(`the connection was not closed within ${timeoutMs} ms`)), timeoutMs);
              }),
            ]);
          } finally {
            clearTimeout(t);
          }
        },
        isClosed: () => closed,
        close: () => socket.destroy(),
      });
    });
    socket.once('error', (e) => {
      if (!closed) reject(e);
    });
  });
}

/** Send one request on a raw connection and return the response with that id (events/other ids are skipped). */
export async function rawCall(conn: RawConnection, id: string | number, method: string, params?: unknown): Promise<RawLine> {
  conn.send(params === undefined ? { id, method } : { id, method, params });
  for (;;) {
    const l = await conn.next();
    if (l.id === id) return l;
  }
}

// ---------------------------------------------------------------- processes

function readProc(pid: string, file: string): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** Process state letter from /proc/<pid>/stat (R, S, Z, …) or null if gone. */
export function procState(pid: number): string | null {
  const stat = readProc(String(pid), 'stat');
  if (stat === null) return null;
  const after = stat.slice(stat.lastIndexOf(')') + 2);
  return after.split(' ')[0] ?? null;
}

/** Alive = exists and is not a zombie. */
export function procAlive(pid: number): boolean {
  const st = procState(pid);
  return st !== null && st !== 'Z' && st !== 'X';
}

export function procCmdline(pid: number): string[] | null {
  const c = readProc(String(pid), 'cmdline');
  if (c === null || c.length === 0) return null;
  return c.replace(/\0$/, '').split('\0');
}

export function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Live processes whose command line (args joined by spaces) contains `token`. Excludes this test process. */
export function findProcs(token: string): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const argv = procCmdline(pid);
    if (argv === null) continue;
    if (argv.join(' ').includes(token) && procAlive(pid)) out.push(pid);
  }
  return out;
}

/** Live `sleep <secs>` processes (argv exactly [.../sleep, secs]). */
export function findSleeps(secs: number): number[] {
  const out: number[] = [];
  for (const pid of findProcs(String(secs))) {
    const argv = procCmdline(pid);
    if (argv && argv.length === 2 && path.basename(argv[0]!) === 'sleep' && argv[1] === String(secs)) out.push(pid);
  }
  return out;
}

const usedSleeps = new Set<number>();
/** A sleep duration in [30000, 39999] that no live process uses: a unique token to find processes by. */
export function uniqueSleep(): number {
  for (;;) {
    const n = 30000 + randomInt(10000);
    if (usedSleeps.has(n)) continue;
    if (findProcs(`sleep ${n}`).length > 0) continue;
    usedSleeps.add(n);
    return n;
  }
}

export function ppidOf(pid: number): number | null {
  const stat = readProc(String(pid), 'stat');
  if (stat === null) return null;
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return after[1] === undefined ? null : Number(after[1]);
}

/** All live descendants of pid (by parent pid), with their command lines. */
export function descendants(root: number): Array<{ pid: number; cmdline: string }> {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const pp = ppidOf(pid);
    if (pp === null) continue;
    const list = children.get(pp) ?? [];
    list.push(pid);
    children.set(pp, list);
  }
  const out: Array<{ pid: number; cmdline: string }> = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (procAlive(pid)) out.push({ pid, cmdline: (procCmdline(pid) ?? []).join(' ') });
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Poll until predicate() is true; resolves true, or false after timeoutMs. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** Assert every listed sleep is gone (within timeoutMs, to let the kernel finish tearing them down). */
export async function assertSleepsGone(secs: number[], timeoutMs = 1500, what = ''): Promise<void> {
  const gone = await waitFor(() => secs.every((s) => findSleeps(s).length === 0), timeoutMs);
  if (!gone) {
    const left = secs.filter((s) => findSleeps(s).length > 0).map((s) => `sleep ${s} (pids ${findSleeps(s).join(',')})`);
    // do not leak them into the next test
    for (const s of secs) for (const pid of findSleeps(s)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    assert.fail(`${what}still alive after ${timeoutMs} ms: ${left.join('; ')}`);
  }
}

/** Kill leftover sleeps (cleanup after a failed test, so nothing leaks into CI). */
export function killSleeps(secs: number[]): void {
  for (const s of secs) {
    for (const pid of findSleeps(s)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** `{path, message}` issues of an INVALID_PARAMS error, paths joined with dots. */
export function issuePaths(e: { details?: Record<string, unknown> | undefined }): string[] {
  const issues = e.details?.['issues'];
  if (!Array.isArray(issues)) return [];
  return issues.map((i: { path?: unknown }) => (Array.isArray(i.path) ? i.path.join('.') : String(i.path ?? '')));
}

export { sleep };

/** The daemon's exit code if it exits within ms, else 'timeout'. */
export async function exitWithin(d: Daemon, ms: number): Promise<number | null | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  const r = await Promise.race([d.exited, new Promise<'timeout'>((res) => (t = setTimeout(() => res('timeout'), ms)))]);
  clearTimeout(t);
  return r;
}

/** strictEqual for long strings: reports the first difference instead of dumping both strings. */
export function assertSameString(actual: string, expected: string, what = 'string'): void {
  if (actual === expected) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  assert.fail(
    `${what} differs at index ${i} (actual length ${actual.length}, expected ${expected.length}): ` +
      `actual …${JSON.stringify(actual.slice(Math.max(0, i - 40), i + 40))}… expected …${JSON.stringify(expected.slice(Math.max(0, i - 40), i + 40))}…`,
  );
}

/** Directories named `name` anywhere in the mounted cgroup hierarchies (depth ≤ 5). */
export function cgroupDirsNamed(name: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (e.name === name) out.push(p);
      if (depth < 5) walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return out;
}
