/**
 * Cgroups as the tests see them: whether this process can make one here,
 * which hierarchy holds a controller, and the directories the daemon made
 * for its instance and its sessions.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

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

/** Directories named `name` anywhere in the mounted cgroup hierarchies (depth ≤ 5). */
export function cgroupDirsNamed(name: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (e.name === name) out.push(p);
      if (depth < 5) walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return out;
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
