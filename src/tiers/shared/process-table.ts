import { readdirSync, readFileSync } from 'node:fs';

/**
 * The /proc-scan fallback for finding a session's processes where cgroups
 * are not writable (docs/security.md, process trees). Every child inherits TAG_VAR naming the daemon
 * instance, the session and the command, so processes that left the process
 * group (setsid, double fork, nohup) are still found; descendants by parent
 * pid and members of the command's process group are added for processes that
 * scrubbed their environment.
 */
export const TAG_VAR = '__TRL_TAG';
const TAG_NEEDLE = Buffer.from(`${TAG_VAR}=`);

export interface ProcEntry {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  tag: string | null;
}

function parseStat(text: string): { state: string; ppid: number; pgid: number } | null {
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const f = text.slice(close + 2).split(' ');
  return { state: f[0] ?? '?', ppid: Number(f[1]), pgid: Number(f[2]) };
}

/** Parent pid of `pid` (from /proc), or null when it is gone. */
export function parentOf(pid: number): number | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'))?.ppid ?? null;
  } catch {
    return null;
  }
}

/** Process group of `pid` (from /proc), or null when it is gone. */
export function groupOf(pid: number): number | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'))?.pgid ?? null;
  } catch {
    return null;
  }
}

function readTag(pid: number): string | null {
  let env: Buffer;
  try {
    env = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
  let at = env.indexOf(TAG_NEEDLE);
  while (at > 0 && env[at - 1] !== 0) at = env.indexOf(TAG_NEEDLE, at + 1);
  if (at < 0) return null;
  const start = at + TAG_NEEDLE.length;
  const end = env.indexOf(0, start);
  return env.subarray(start, end < 0 ? env.length : end).toString('latin1');
}

/** Every live (non-zombie) process, except this daemon itself. */
export function scanProcesses(): ProcEntry[] {
  const out: ProcEntry[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let stat;
    try {
      stat = parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    } catch {
      continue;
    }
    if (!stat || stat.state === 'Z' || stat.state === 'X') continue;
    out.push({ pid, ppid: stat.ppid, pgid: stat.pgid, state: stat.state, tag: readTag(pid) });
  }
  return out;
}

/**
 * Processes whose tag `matches`, members of `pgids`, and all their descendants.
 */
export function selectTree(procs: ProcEntry[], matches: (tag: string) => boolean, pgids: number[] = []): number[] {
  const chosen = new Set<number>();
  for (const p of procs) {
    if ((p.tag !== null && matches(p.tag)) || pgids.includes(p.pgid)) chosen.add(p.pid);
  }
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const queue = [...chosen];
  for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
    for (const child of children.get(pid) ?? []) {
      if (!chosen.has(child)) {
        chosen.add(child);
        queue.push(child);
      }
    }
  }
  return [...chosen];
}

/** True when `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const st = parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    return st !== null && st.state !== 'Z' && st.state !== 'X';
  } catch {
    return false;
  }
}

/** Count the daemon's own children that have exited but not been reaped. */
export function zombieChildren(): number {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const st = parseStat(readFileSync(`/proc/${name}/stat`, 'latin1'));
      if (st && st.ppid === process.pid && st.state === 'Z') n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

const PAGE = 4096;
const HZ = 100;

/** Resident memory and CPU time (user + system) of `pids`, from /proc/<pid>/stat. */
export function processUsage(pids: number[]): { rssBytes: number; cpuS: number } {
  let rss = 0;
  let ticks = 0;
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
      rss += Number(f[21]) * PAGE;
    } catch {
      /* gone */
    }
  }
  return { rssBytes: rss, cpuS: ticks / HZ };
}

/** A daemon pid that is gone, or reused by something that is not node, belonged to a dead daemon. */
export function daemonIsDead(pid: number): boolean {
  if (!isAlive(pid)) return true;
  try {
    return !readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('node');
  } catch {
    return true;
  }
}
