import type { Mount } from './cgroups.js';

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

/** Linux's major version from a release string (`6.18.44-…`); null when it is not one. */
function kernelMajor(text: string): number | null {
  const m = /^(\d+)\./.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * The migration cost the cgroup `mounts` (cgroups.ts, parseMounts) give, for a
 * kernel `kernelRelease`: fast when any hierarchy carries favordynmods;
 * otherwise the fix names `preferred` (the hierarchy trl tracks processes
 * in), else the first cgroup2 mount.
 */
export function migrationCost(mounts: ReadonlyArray<Pick<Mount, 'path' | 'version' | 'options'>>, kernelRelease: string, preferred?: string): MigrationCost {
  const favoured = mounts.find((m) => m.options.includes('favordynmods'));
  if (favoured) return { fast: true, mount: favoured.path, fix: null };
  const target = mounts.find((m) => m.path === preferred) ?? mounts.find((m) => m.version === 2) ?? mounts[0];
  if (!target) return { fast: false, mount: null, fix: 'no cgroup hierarchy is mounted' };
  const major = kernelMajor(kernelRelease);
  const remount = `mount -o remount,favordynmods ${target.path}`;
  const fix = major !== null && major >= 6 ? remount : `upgrade to Linux 6.0 or later (this is ${kernelRelease}), then ${remount}`;
  return { fast: false, mount: target.path, fix };
}

/** What a command after an idle moment pays without favordynmods, for messages. */
export const SLOW_MIGRATION_TEXT = 'each command that follows an idle moment waits 10–20 ms for the kernel to move it into its session cgroup (an RCU grace period)';
