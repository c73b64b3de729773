import { join } from 'node:path';
import type { SessionLimits } from '../tier.js';
import { instanceDir, writeCgroupFile, type CgroupLayout } from './cgroups.js';

const CPU_PERIOD_US = 100_000;

/**
 * Write a session's memory/CPU/pid limits into its cgroups. memory also caps
 * swap so the limit cannot be escaped by swapping out.
 */
export function applyLimits(layout: CgroupLayout, instanceId: string, sessionTag: string, limits: SessionLimits): void {
  const dirOf = (root: string) => join(instanceDir(root, instanceId), `s-${sessionTag}`);
  const mem = layout.controllers.memory;
  if (mem && limits.memory_bytes !== undefined) {
    const dir = dirOf(mem.root);
    if (mem.version === 2) {
      writeCgroupFile(dir, 'memory.max', String(limits.memory_bytes));
      writeCgroupFile(dir, 'memory.swap.max', '0');
    } else {
      writeCgroupFile(dir, 'memory.limit_in_bytes', String(limits.memory_bytes));
      writeCgroupFile(dir, 'memory.memsw.limit_in_bytes', String(limits.memory_bytes));
    }
  }
  const pids = layout.controllers.pids;
  if (pids && limits.pids !== undefined) writeCgroupFile(dirOf(pids.root), 'pids.max', String(limits.pids));
  const cpu = layout.controllers.cpu;
  if (cpu && limits.cpu_percent !== undefined) {
    const quota = Math.max(1000, Math.round((limits.cpu_percent / 100) * CPU_PERIOD_US));
    const dir = dirOf(cpu.root);
    if (cpu.version === 2) writeCgroupFile(dir, 'cpu.max', `${quota} ${CPU_PERIOD_US}`);
    else {
      writeCgroupFile(dir, 'cpu.cfs_period_us', String(CPU_PERIOD_US));
      writeCgroupFile(dir, 'cpu.cfs_quota_us', String(quota));
    }
  }
}

/** An rlimit a session sets on its commands (soft and hard alike, as `ulimit` does). */
export interface Rlimit {
  /** RLIMIT_* (the same numbers on x86_64 and aarch64). */
  resource: number;
  /** In the resource's own unit (bytes for the address space). */
  value: number;
  /** The `ulimit` flag(s) of the shell that sets it, in this order. */
  flags: string[];
  /** The value as `ulimit` takes it. */
  ulimit: number;
}

/**
 * Per-process rlimits set before the command runs (by the spawning shell, or
 * a sandbox's entry): CPU seconds and open files always; address space and
 * process count only where no cgroup enforces memory or pids (RLIMIT_NPROC
 * counts per user and does not bind root, so it is a weak stand-in).
 */
export function rlimitsFor(limits: SessionLimits, layout: CgroupLayout | null): Rlimit[] {
  const out: Rlimit[] = [];
  if (limits.cpu_s !== undefined) out.push({ resource: 0, value: limits.cpu_s, flags: ['-t'], ulimit: limits.cpu_s });
  if (limits.nofile !== undefined) out.push({ resource: 7, value: limits.nofile, flags: ['-n'], ulimit: limits.nofile });
  if (limits.memory_bytes !== undefined && !layout?.controllers.memory) {
    const kb = Math.ceil(limits.memory_bytes / 1024);
    out.push({ resource: 9, value: kb * 1024, flags: ['-v'], ulimit: kb });
  }
  // Shells name RLIMIT_NPROC differently: bash, zsh and ksh `-u`, dash and busybox `-p`.
  if (limits.pids !== undefined && !layout?.controllers.pids) out.push({ resource: 6, value: limits.pids, flags: ['-u', '-p'], ulimit: limits.pids });
  return out;
}

/** The shell lines that set `rlimits` (exit 125 when one cannot be set). */
export function rlimitLines(rlimits: readonly Rlimit[]): string[] {
  return rlimits.map(({ flags, ulimit }) => {
    const [flag, alt] = flags;
    const attempt = alt ? `{ ulimit ${flag} ${ulimit} || ulimit ${alt} ${ulimit}; } 2>/dev/null` : `ulimit ${flag} ${ulimit} 2>/dev/null`;
    return `${attempt} || { echo 'trl: cannot set rlimit ulimit ${flag} ${ulimit}' >&2; exit 125; }`;
  });
}
