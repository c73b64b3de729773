import { readFileSync } from 'node:fs';
import { release } from 'node:os';

/**
 * What moving a process into a cgroup costs on this kernel.
 *
 * Every host and sandbox command joins its session's cgroups (a write to
 * cgroup.procs) before it runs. The kernel serializes migrations against
 * forks with one global reader-writer semaphore whose readers are made cheap
 * by RCU: a writer first waits for an RCU grace period, unless another
 * writer went through moments before. Commands back to back never wait; a
 * command that follows an idle moment (20 ms or more: every command an agent
 * sends after thinking) waits 10–20 ms for the grace period, five times what
 * the command itself costs. Measured on Linux 6.18: `sh -c 'echo $$ >
 * cgroup.procs'` took 1.5 ms back to back and 8–22 ms after 20–100 ms idle;
 * `exec.run true` took 2.2 ms and 8–16 ms.
 *
 * The `favordynmods` mount option (Linux 6.0 and later, on any cgroup
 * hierarchy) keeps that semaphore in its slow-reader mode, so a migration no
 * longer waits: forks and exits pay an atomic operation instead. trl does not
 * remount the host's cgroups itself (a machine-wide setting, which the kernel
 * keeps until reboot once set); `trl doctor` and the daemon's start say how.
 */
export interface MigrationCost {
  /** Whether a cgroup hierarchy is mounted with favordynmods: migrations do not wait for a grace period. */
  fast: boolean;
  /** The hierarchy that shows it, or the one to remount. */
  mount: string | null;
  /** What to run when not fast; null when fast. */
  fix: string | null;
}

/** Mount points and super options of the cgroup hierarchies in a mountinfo text (proc(5)). */
export function cgroupMounts(mountinfo: string): Array<{ path: string; version: 1 | 2; options: string[] }> {
  const out: Array<{ path: string; version: 1 | 2; options: string[] }> = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const path = line.slice(0, sep).split(' ')[4];
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    if (!path || (fstype !== 'cgroup2' && fstype !== 'cgroup')) continue;
    out.push({ path, version: fstype === 'cgroup2' ? 2 : 1, options: superOptions.split(',') });
  }
  return out;
}

/** Linux version `major.minor` from a release string (`6.18.44-…`); null when it is not one. */
function kernelVersion(text: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/**
 * The migration cost the mounts in `mountinfo` give, for a kernel `kernelRelease`:
 * fast when any cgroup hierarchy carries favordynmods; otherwise the fix names
 * `preferred` (the hierarchy trl tracks processes in), else the first cgroup2 mount.
 */
export function migrationCost(mountinfo: string, kernelRelease: string, preferred?: string): MigrationCost {
  const mounts = cgroupMounts(mountinfo);
  const favoured = mounts.find((m) => m.options.includes('favordynmods'));
  if (favoured) return { fast: true, mount: favoured.path, fix: null };
  const target = mounts.find((m) => m.path === preferred) ?? mounts.find((m) => m.version === 2) ?? mounts[0];
  if (!target) return { fast: false, mount: null, fix: 'no cgroup hierarchy is mounted' };
  const v = kernelVersion(kernelRelease);
  const remount = `mount -o remount,favordynmods ${target.path}`;
  const fix = v && v[0] >= 6 ? remount : `upgrade to Linux 6.0 or later (this is ${kernelRelease}), then ${remount}`;
  return { fast: false, mount: target.path, fix };
}

/** This machine's migration cost (see migrationCost); `preferred`: the hierarchy trl tracks processes in. */
export function machineMigrationCost(preferred?: string): MigrationCost {
  let mountinfo = '';
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    /* no /proc: no cgroups are used either */
  }
  return migrationCost(mountinfo, release(), preferred);
}

/** What a command after an idle moment pays without favordynmods, for messages. */
export const SLOW_MIGRATION_TEXT = 'each command that follows an idle moment waits 10–20 ms for the kernel to move it into its session cgroup (an RCU grace period)';
