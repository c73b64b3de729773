/**
 * What joining a cgroup costs a command (src/tiers/host/cgroup-migrations.ts):
 * read from the cgroup mounts' super options, with the fix `trl doctor` and
 * the daemon's start name when a command after an idle moment would wait for
 * an RCU grace period.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { release } from 'node:os';
import { migrationCost as costOf } from '../../src/tiers/host/cgroup-migrations.js';
import { parseMounts as cgroupMounts, readMounts } from '../../src/tiers/host/cgroups.js';

/** The cost a mountinfo text gives (cgroups.ts parses it, cgroup-migrations.ts judges it). */
function migrationCost(mountinfo: string, kernelRelease: string, preferred?: string) {
  return costOf(cgroupMounts(mountinfo), kernelRelease, preferred);
}

/** mountinfo lines (proc(5)) as this CI machine and a systemd machine show them. */
const HYBRID = [
  '30 24 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '32 30 0:28 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '41 30 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  '50 24 0:40 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
].join('\n');
const SYSTEMD = '35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';
const FAVOURED = '35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,favordynmods,memory_recursiveprot';

describe('cgroup migration cost (favordynmods)', () => {
  it('reads the cgroup hierarchies, their versions and super options, and nothing else', () => {
    assert.deepEqual(cgroupMounts(HYBRID), [
      { path: '/sys/fs/cgroup/memory', root: '/', version: 1, controllers: ['memory'], options: ['rw', 'memory'] },
      { path: '/sys/fs/cgroup/pids', root: '/', version: 1, controllers: ['pids'], options: ['rw', 'pids'] },
      { path: '/sys/fs/cgroup/unified', root: '/', version: 2, controllers: [], options: ['rw'] },
    ]);
    assert.deepEqual(cgroupMounts(''), []);
  });

  it('without favordynmods: slow, and the fix remounts the hierarchy trl tracks in', () => {
    assert.deepEqual(migrationCost(HYBRID, '6.18.44-fc-v1147', '/sys/fs/cgroup/unified'), {
      fast: false,
      mount: '/sys/fs/cgroup/unified',
      fix: 'mount -o remount,favordynmods /sys/fs/cgroup/unified',
    });
    // v1 tracking (a pids hierarchy): that one is named.
    assert.equal(migrationCost(HYBRID, '6.1.0', '/sys/fs/cgroup/pids').fix, 'mount -o remount,favordynmods /sys/fs/cgroup/pids');
    // No preference: the cgroup2 mount.
    assert.equal(migrationCost(SYSTEMD, '6.8.0-45-generic').fix, 'mount -o remount,favordynmods /sys/fs/cgroup');
  });

  it('before Linux 6.0 the option does not exist: the fix says so', () => {
    const cost = migrationCost(SYSTEMD, '5.15.0-1', '/sys/fs/cgroup');
    assert.equal(cost.fast, false);
    assert.equal(cost.fix, 'upgrade to Linux 6.0 or later (this is 5.15.0-1), then mount -o remount,favordynmods /sys/fs/cgroup');
  });

  it('favordynmods on any hierarchy makes every migration fast (the semaphore is global)', () => {
    assert.deepEqual(migrationCost(FAVOURED, '6.8.0'), { fast: true, mount: '/sys/fs/cgroup', fix: null });
    const v1Favoured = HYBRID.replace('cgroup cgroup rw,pids', 'cgroup cgroup rw,pids,favordynmods');
    assert.deepEqual(migrationCost(v1Favoured, '6.18.0', '/sys/fs/cgroup/unified'), { fast: true, mount: '/sys/fs/cgroup/pids', fix: null });
  });

  it('no cgroup mounted: slow with nothing to remount', () => {
    assert.deepEqual(migrationCost('50 24 0:40 / /proc rw - proc proc rw', '6.8.0'), { fast: false, mount: null, fix: 'no cgroup hierarchy is mounted' });
  });

  it('this machine: agrees with its own mountinfo', async () => {
    const { readFileSync } = await import('node:fs');
    const favoured = readFileSync('/proc/self/mountinfo', 'utf8').includes('favordynmods');
    assert.equal(costOf(readMounts(), release()).fast, favoured);
  });
});
