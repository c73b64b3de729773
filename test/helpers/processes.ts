/**
 * The process table as /proc shows it: states, command lines, parents, and
 * `sleep N` processes with a unique N, the token tests find their own
 * processes by.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach } from 'node:test';
import { waitFor } from './wait.js';

/** A file of /proc/<pid>/, or null if the process is gone. */
export function readProc(pid: string, file: string): string | null {
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

export function ppidOf(pid: number): number | null {
  const stat = readProc(String(pid), 'stat');
  if (stat === null) return null;
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return after[1] === undefined ? null : Number(after[1]);
}

/** Children of `pid` that have exited and not been reaped (state Z). */
export function zombieChildrenOf(pid: number): number[] {
  return allPids().filter((p) => ppidOf(p) === pid && procState(p) === 'Z');
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

/** CPU seconds (utime + stime) a process has used, from /proc/<pid>/stat; null if gone. */
export function procCpuSeconds(pid: number): number | null {
  const stat = readProc(String(pid), 'stat');
  if (stat === null) return null;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields after ')' start at field 3 (state): utime is field 14, stime 15
  const ticks = Number(f[11]) + Number(f[12]);
  return ticks / CLK_TCK;
}

/**
 * Waits until a process has done all the work it was given: its CPU time stays put (at most two
 * clock ticks) over `windowMs` of wall time, checked again and again until the deadline. On a
 * loaded machine "it has dispatched what it read" is not known any sooner; false if never quiet.
 */
export async function waitForQuiet(pid: number, windowMs = 500): Promise<boolean> {
  let before = procCpuSeconds(pid);
  return waitFor(
    () => {
      const now = procCpuSeconds(pid);
      const quiet = before !== null && now !== null && now - before <= 2 / CLK_TCK;
      before = now;
      return quiet;
    },
    undefined,
    windowMs,
  );
}

/** USER_HZ: 100 on every Linux the tests run on (getconf CLK_TCK). */
const CLK_TCK = 100;

/** Open file descriptors of a process, or null if it is gone. */
export function fdCount(pid: number): number | null {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
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

// ---------------------------------------------------------------- sleeps as tokens

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

/** Kill leftover sleeps (cleanup after a failed test, so nothing leaks into CI). */
export function killSleeps(secs: number[]): void {
  for (const s of secs) killPids(findSleeps(s));
}

/**
 * Unique sleeps for the tests of one describe block (call it in the block):
 * `token()` gives a new one, `kill()` ends every one given so far; they are
 * killed after the block, and after each test too with `eachTest`.
 */
export function sleepTokens(opts: { eachTest?: boolean } = {}): { token: () => number; kill: () => void } {
  const given: number[] = [];
  const kill = () => killSleeps(given);
  if (opts.eachTest) afterEach(kill);
  after(kill);
  return {
    token: () => {
      const n = uniqueSleep();
      given.push(n);
      return n;
    },
    kill,
  };
}

/** Assert every listed sleep goes away (the kernel may take a moment to finish tearing them down). */
export async function assertSleepsGone(secs: number[], what = ''): Promise<void> {
  const gone = await waitFor(() => secs.every((s) => findSleeps(s).length === 0));
  if (!gone) {
    const left = secs.filter((s) => findSleeps(s).length > 0).map((s) => `sleep ${s} (pids ${findSleeps(s).join(',')})`);
    killSleeps(secs); // do not leak them into the next test
    assert.fail(`${what}still alive: ${left.join('; ')}`);
  }
}

/** Wait until each listed sleep runs (once); asserts it does. */
export async function assertSleepsRunning(secs: number[], what = ''): Promise<void> {
  const up = await waitFor(() => secs.every((s) => findSleeps(s).length > 0));
  assert.ok(
    up,
    `${what}never started: ${secs
      .filter((s) => findSleeps(s).length === 0)
      .map((s) => `sleep ${s}`)
      .join(', ')}`,
  );
}
