import { constants } from 'node:os';
import { groupOf, type TreeScan } from './process-table.js';
import { sleep } from './timers.js';

/** Send `signal` to each pid; returns how many were delivered. */
export function signalAll(pids: Iterable<number>, signal: NodeJS.Signals): number {
  let n = 0;
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
      n++;
    } catch {
      /* already gone */
    }
  }
  return n;
}

/**
 * Signal a command's tree once per process: each of its leaders' groups
 * (`groups`) as a whole — a child forked after `pids` was listed is in its
 * parent's group and gets the signal too — then each listed process outside
 * those groups (one that made a group or session of its own). A group is
 * signalled whole only while a listed process is in it (a recycled number is
 * never a stranger's group) and none of `spare` is (a launcher that must not
 * get the command's signals, such as the sandbox's entry: its group's
 * processes are then signalled one by one, as listed). Returns the processes
 * signalled (as listed).
 */
export function signalTree(pids: readonly number[], groups: readonly number[], signal: NodeJS.Signals, spare: ReadonlySet<number> = new Set()): number {
  const groupOfPid = new Map(pids.map((p) => [p, groupOf(p)]));
  const spared = new Set([...spare].map(groupOf));
  const members = (g: number) => pids.filter((p) => groupOfPid.get(p) === g).length;
  const signalled = new Set<number>();
  let n = 0;
  for (const g of new Set(groups)) {
    const listed = members(g);
    if (listed === 0 || spared.has(g)) continue;
    try {
      process.kill(-g, signal);
      signalled.add(g);
      n += listed;
    } catch {
      /* the group is gone */
    }
  }
  return (
    n +
    signalAll(
      pids.filter((p) => !signalled.has(groupOfPid.get(p) ?? -1)),
      signal,
    )
  );
}

/** The platform's signals by name. */
const SIGNAL_NUMBERS = new Map<string, number>(Object.entries(constants.signals));

/** Whether the platform has a signal of this name (`SIGTERM`, not `TERM`). */
export function isSignalName(name: string): name is NodeJS.Signals {
  return SIGNAL_NUMBERS.has(name);
}

/** SIGTERM → 15; undefined for a name the platform does not have. */
export function signalNumber(name: string): number | undefined {
  return SIGNAL_NUMBERS.get(name);
}

/** 15 → SIGTERM; null for 0 or a number the platform does not name. */
export function signalName(n: number): NodeJS.Signals | null {
  if (!n) return null;
  for (const [name, num] of SIGNAL_NUMBERS) if (num === n && isSignalName(name)) return name;
  return null;
}

const POLL_MS = 10;
const KILL_WAIT_MS = 3000;

/**
 * Kill a process tree found by `find` (called again every round, so what it
 * forks meanwhile is found too): SIGTERM, then up to `graceMs` for it to go
 * (processes forked meanwhile get their SIGTERM too), then SIGKILL rounds
 * until none is left or KILL_WAIT_MS pass. `beforeKill` runs before each
 * SIGKILL round (a cgroup's own kill) and may add what it kills to `seen`.
 * A scan that found nothing but could not judge a process (TreeScan.unsettled:
 * one caught between two programs, whose tag reads as nothing for that moment)
 * does not count as the tree gone: the next round looks again. Returns how
 * many processes were signalled.
 */
export async function terminateTree(find: () => TreeScan, graceMs: number, beforeKill?: (seen: Set<number>) => void): Promise<number> {
  const seen = new Set<number>();
  /** Signal what is in scope now (onlyNew: just what was not signalled before). True once nothing is left. */
  const round = (signal: NodeJS.Signals, onlyNew: boolean): boolean => {
    const { pids, unsettled } = find();
    const targets = onlyNew ? pids.filter((p) => !seen.has(p)) : pids;
    for (const p of pids) seen.add(p);
    signalAll(targets, signal);
    return pids.length === 0 && !unsettled;
  };
  if (graceMs > 0 && !round('SIGTERM', false)) {
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      if (round('SIGTERM', true)) break;
    }
  }
  const deadline = Date.now() + KILL_WAIT_MS;
  for (;;) {
    beforeKill?.(seen);
    if (round('SIGKILL', false) || Date.now() > deadline) break;
    await sleep(POLL_MS);
  }
  return seen.size;
}
