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

/**
 * Per-process rlimits set by the spawning shell before the command runs:
 * CPU seconds and open files always; address space and process count only
 * where no cgroup enforces memory or pids (RLIMIT_NPROC counts per user and
 * does not bind root, so it is a weak stand-in).
 */
export function rlimitLines(limits: SessionLimits, layout: CgroupLayout | null): string[] {
  const lines: string[] = [];
  // Shells name RLIMIT_NPROC differently: bash, zsh and ksh `-u`, dash and busybox `-p`.
  const set = (flag: string, value: number, alt?: string) => {
    const attempt = alt ? `{ ulimit ${flag} ${value} || ulimit ${alt} ${value}; } 2>/dev/null` : `ulimit ${flag} ${value} 2>/dev/null`;
    lines.push(`${attempt} || { echo 'trl: cannot set rlimit ulimit ${flag} ${value}' >&2; exit 125; }`);
  };
  if (limits.cpu_s !== undefined) set('-t', limits.cpu_s);
  if (limits.nofile !== undefined) set('-n', limits.nofile);
  if (limits.memory_bytes !== undefined && !layout?.controllers.memory) set('-v', Math.ceil(limits.memory_bytes / 1024));
  if (limits.pids !== undefined && !layout?.controllers.pids) set('-u', limits.pids, '-p');
  return lines;
}
