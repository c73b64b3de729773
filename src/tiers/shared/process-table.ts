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
  /** Its tag cannot be read yet: it is between two programs (see isBetweenPrograms). */
  unsettled: boolean;
}

/** What a tree scan found, and whether a process it could not judge yet may still belong to the tree. */
export interface TreeScan {
  pids: number[];
  unsettled: boolean;
}

/** The kernel's flag for its own threads (PF_KTHREAD), in /proc/<pid>/stat. */
const PF_KTHREAD = 0x00200000;

function parseStat(text: string): { state: string; ppid: number; pgid: number; flags: number } | null {
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const f = text.slice(close + 2).split(' ');
  return { state: f[0] ?? '?', ppid: Number(f[1]), pgid: Number(f[2]), flags: Number(f[6]) };
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

function readEnviron(pid: number): Buffer | null {
  try {
    return readFileSync(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
}

function tagIn(env: Buffer): string | null {
  let at = env.indexOf(TAG_NEEDLE);
  while (at > 0 && env[at - 1] !== 0) at = env.indexOf(TAG_NEEDLE, at + 1);
  if (at < 0) return null;
  const start = at + TAG_NEEDLE.length;
  const end = env.indexOf(0, start);
  return env.subarray(start, end < 0 ? env.length : end).toString('latin1');
}

/**
 * A process in execve, past the switch to its new memory and before the
 * kernel has written the new program's arguments and environment there,
 * shows an empty environment and an empty command line; so does one whose
 * memory is already released as it exits. Any other process has at least
 * its argv[0] (Linux gives even an argc 0 execve an empty one). Such a
 * process may be one of a session's: its tag is readable again a moment later.
 */
function isBetweenPrograms(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`).length === 0;
  } catch {
    return false;
  }
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
    const env = readEnviron(pid);
    const unsettled = env !== null && env.length === 0 && (stat.flags & PF_KTHREAD) === 0 && isBetweenPrograms(pid);
    out.push({ pid, ppid: stat.ppid, pgid: stat.pgid, state: stat.state, tag: env ? tagIn(env) : null, unsettled });
  }
  return out;
}

/**
 * selectTree over a fresh scan for the processes tagged `tag` (with
 * `wholeSession`, every tag that starts with it: a session's, whatever the
 * command), saying whether a process of the machine could not be judged yet
 * (ProcEntry.unsettled).
 */
export function scanTree(tag: string, wholeSession: boolean, pgids: number[] = []): TreeScan {
  const matches = wholeSession ? (t: string) => t.startsWith(tag) : (t: string) => t === tag;
  const procs = scanProcesses();
  return { pids: selectTree(procs, matches, pgids), unsettled: procs.some((p) => p.unsettled) };
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
