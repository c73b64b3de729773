/**
 * Helpers for the resource-control tests (DESIGN §3, §6): whether cgroups can
 * be used here, finding a session's processes by their inherited __TRL_TAG
 * and its cgroup directories, watching the daemon's RSS, fds and children,
 * and a ping monitor that measures how responsive the daemon stays under abuse.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  allPids,
  canConnect,
  cgroupDirsNamed,
  makeTempDir,
  MAIN_JS,
  ppidOf,
  procAlive,
  procState,
  rawConnect,
  sleep,
  type RawConnection,
  type TrlClient,
} from './daemon.js';

/** Untyped call: these tests read fields (usage, oom_killed, …) that the SDK types may not name yet. */
export function anyCall(c: TrlClient, method: string, params: Record<string, unknown> = {}): Promise<any> {
  return c.call(method, params);
}

// ---------------------------------------------------------------- cgroups

/** True when this process can create a cgroup in some mounted hierarchy (root, or a delegated one). */
export function cgroupsWritable(): boolean {
  for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory']) {
    const probe = path.join(root, `trl-probe-${process.pid}-${Math.random().toString(16).slice(2)}`);
    try {
      fs.mkdirSync(probe);
      fs.rmdirSync(probe);
      return true;
    } catch {
      /* not this one */
    }
  }
  return false;
}

/**
 * The `skip` option for a suite that needs writable cgroups: false when they
 * are writable; the printed reason otherwise; throws under TRL_REQUIRE_TIERS=1
 * (CI), where a skip must be a failure.
 */
export function cgroupSkip(what: string): string | false {
  if (cgroupsWritable()) return false;
  const reason = `no writable cgroup hierarchy here (run as root or delegate a cgroup): ${what} cannot be enforced`;
  if (process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`TRL_REQUIRE_TIERS=1 but ${reason}`);
  console.log(`# skipping: ${reason}`);
  return reason;
}

/** A v1 or v2 hierarchy mounted here that has `controller` (v2: listed in cgroup.controllers). */
export function controllerMount(controller: 'memory' | 'pids' | 'cpu' | 'cpuacct'): { root: string; version: 1 | 2 } | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  let v2: string | null = null;
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    const right = line.slice(sep + 3).split(' ');
    if (!mountPoint) continue;
    if (right[0] === 'cgroup' && (right[2] ?? '').split(',').includes(controller)) return { root: mountPoint, version: 1 };
    if (right[0] === 'cgroup2') v2 = mountPoint;
  }
  if (v2) {
    try {
      if (fs.readFileSync(path.join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes(controller)) return { root: v2, version: 2 };
    } catch {
      /* no controllers */
    }
  }
  return null;
}

/** Directories named `s-<sessionTag>` below the daemon instance's cgroup directories, in every hierarchy. */
export function sessionCgroupDirs(instanceId: string, sessionTag: string): string[] {
  const out: string[] = [];
  for (const inst of cgroupDirsNamed(instanceId)) {
    const dir = path.join(inst, `s-${sessionTag}`);
    if (fs.existsSync(dir)) out.push(dir);
  }
  return out;
}

export function readFileOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- process tags

/** The `__TRL_TAG` value in /proc/<pid>/environ, or null. */
export function procTag(pid: number): string | null {
  let env: string;
  try {
    env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return null;
  }
  for (const kv of env.split('\0')) if (kv.startsWith('__TRL_TAG=')) return kv.slice('__TRL_TAG='.length);
  return null;
}

/** Live processes whose __TRL_TAG starts with `prefix` (e.g. `<instance>:` or `<instance>:<session tag>:`). */
export function taggedProcs(prefix: string): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const tag = procTag(pid);
    if (tag !== null && tag.startsWith(prefix) && procAlive(pid)) out.push(pid);
  }
  return out;
}

/** SIGKILL every listed pid (cleanup after a failed test). */
export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * The session's process tag as its commands see it: `<instance>:<session tag>:<command tag>`.
 * Runs one command in the session.
 */
export async function sessionTagOf(c: TrlClient, sessionId: string): Promise<{ instance: string; session: string; prefix: string }> {
  const r = await anyCall(c, 'exec.run', { session_id: sessionId, command: 'printf %s "$__TRL_TAG"' });
  const parts = String(r.stdout).split(':');
  assert.equal(parts.length, 3, `__TRL_TAG of a command is ${JSON.stringify(r.stdout)}, expected <instance>:<session>:<command>`);
  return { instance: parts[0]!, session: parts[1]!, prefix: `${parts[0]}:${parts[1]}:` };
}

// ---------------------------------------------------------------- the daemon process

/** VmRSS of a process in bytes, or null if it is gone. */
export function rssBytes(pid: number): number | null {
  const status = readFileOrNull(`/proc/${pid}/status`);
  const m = status && /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

/** Open file descriptors of a process, or null if it is gone. */
export function fdCount(pid: number): number | null {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Children of `pid` that have exited and not been reaped (state Z). */
export function zombieChildrenOf(pid: number): number[] {
  return allPids().filter((p) => ppidOf(p) === pid && procState(p) === 'Z');
}

/** CPU seconds (utime + stime) a process has used, from /proc/<pid>/stat; null if gone. */
export function procCpuSeconds(pid: number): number | null {
  const stat = readFileOrNull(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields after ')' start at field 3 (state): utime is field 14, stime 15
  const ticks = Number(f[11]) + Number(f[12]);
  return ticks / CLK_TCK;
}

/** USER_HZ: 100 on every Linux the tests run on (getconf CLK_TCK). */
const CLK_TCK = 100;

// ---------------------------------------------------------------- responsiveness

export interface PingReport {
  sent: number;
  answered: number;
  /** Latencies of answered pings, ms. */
  latencies: number[];
  maxMs: number;
  /** Pings still unanswered when the monitor stopped, with their age in ms. */
  outstanding: number[];
  errors: string[];
}

export interface PingMonitor {
  stop(): Promise<PingReport>;
}

/**
 * Send system.ping every `intervalMs` on a connection of its own, whether or
 * not earlier pings were answered, and time each answer.
 */
export async function startPingMonitor(socketPath: string, intervalMs = 100): Promise<PingMonitor> {
  const conn: RawConnection = await rawConnect(socketPath);
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const errors: string[] = [];
  let next = 1;
  let handled = 0;
  let stopped = false;
  const reader = (async () => {
    while (!stopped || sentAt.size > 0) {
      let line;
      try {
        line = await conn.next(250);
      } catch (e) {
        if (conn.isClosed()) {
          errors.push('the ping connection closed');
          return;
        }
        if (stopped) return;
        continue;
      }
      const id = typeof line.id === 'number' ? line.id : NaN;
      const t = sentAt.get(id);
      if (t === undefined) {
        errors.push(`unexpected line ${JSON.stringify(line).slice(0, 200)}`);
        continue;
      }
      sentAt.delete(id);
      handled++;
      if (line.ok !== true) errors.push(`ping ${id} failed: ${JSON.stringify(line.error)}`);
      latencies.push(performance.now() - t);
    }
  })();
  const timer = setInterval(() => {
    const id = next++;
    sentAt.set(id, performance.now());
    conn.send({ id, method: 'system.ping' });
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      // give the last pings up to 1 s to come back
      const deadline = Date.now() + 1000;
      while (sentAt.size > 0 && Date.now() < deadline) await sleep(20);
      stopped = true;
      const now = performance.now();
      const outstanding = [...sentAt.values()].map((t) => Math.round(now - t));
      sentAt.clear();
      await reader;
      conn.close();
      return {
        sent: next - 1,
        answered: handled,
        latencies,
        maxMs: latencies.length > 0 ? Math.max(...latencies) : 0,
        outstanding,
        errors,
      };
    },
  };
}

// ---------------------------------------------------------------- a daemon under a wrapper

export interface WrappedDaemon {
  pid: number;
  socketPath: string;
  dir: string;
  logs(): string;
  hasExited(): boolean;
  stop(): Promise<number | null>;
}

/**
 * Start `trl serve` through `sh -c '<prelude>; exec node …'` — for settings a
 * Node process cannot give itself, such as a lower RLIMIT_NOFILE
 * (`ulimit -n 128`). The pid is the daemon's (the shell execs it).
 */
export async function startDaemonUnder(prelude: string, flags: string[] = []): Promise<WrappedDaemon> {
  const dir = makeTempDir();
  const socketPath = path.join(dir, 'trl.sock');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TRL_') || k === 'TRL_REQUIRE_TIERS') env[k] = v;
  const proc: ChildProcess = spawn(
    '/bin/sh',
    ['-c', `${prelude} && exec "$@"`, 'sh', process.execPath, '--max-semi-space-size=1', MAIN_JS, 'serve', '--socket-path', socketPath, '--allow-root', '--log-level', 'info', ...flags],
    { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => (out += d));
  proc.stderr!.on('data', (d: string) => (out += d));
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (c) => ((code = c), resolve(c))));
  const killer = () => proc.kill('SIGKILL');
  process.once('exit', killer);
  const d: WrappedDaemon = {
    pid: proc.pid!,
    socketPath,
    dir,
    logs: () => out,
    hasExited: () => code !== undefined,
    async stop() {
      if (code === undefined) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      process.off('exit', killer);
      fs.rmSync(dir, { recursive: true, force: true });
      return code ?? null;
    },
  };
  const deadline = Date.now() + 10_000;
  while (!(fs.existsSync(socketPath) && (await canConnect(socketPath)))) {
    if (code !== undefined || Date.now() > deadline) {
      await d.stop();
      throw new Error(`the daemon under \`${prelude}\` did not start listening on ${socketPath}:\n${out}`);
    }
    await sleep(25);
  }
  return d;
}
