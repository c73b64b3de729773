import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { migrationCost, type MigrationCost } from './cgroup-migrations.js';

/**
 * Per-session cgroups (docs/security.md, process trees, §6). Three shapes are supported:
 * - plain v2: one hierarchy tracks processes (cgroup.kill) and holds the limits;
 * - hybrid: a v2 hierarchy without controllers tracks processes, the v1
 *   memory/pids/cpu hierarchies hold the limits (what this CI machine mounts);
 * - v1 only: the v1 pids hierarchy tracks, v1 controllers hold the limits.
 * Layout: <mount>/trl/<instance>/s-<session>[/c-<command>] — commands get their
 * own leaf in the tracking hierarchy so a timeout kills just that tree.
 */
export type Controller = 'memory' | 'pids' | 'cpu';

export interface CgroupLayout {
  /** Hierarchy root that tracks processes, with its version. */
  tracking: { root: string; version: 1 | 2; canKill: boolean };
  /** Where each limit controller lives (may be the tracking root). */
  controllers: Partial<Record<Controller, { root: string; version: 1 | 2 }>>;
  kind: 'cgroup-v2' | 'cgroup-hybrid' | 'cgroup-v1';
  /** What joining these cgroups costs a command (cgroup-migrations.ts). */
  migrations: MigrationCost;
}

/** A cgroup hierarchy as /proc/self/mountinfo shows it. */
export interface Mount {
  path: string;
  /** The cgroup the mount shows as its root (`/` unless a cgroup namespace or a bind mount narrows it). */
  root: string;
  version: 1 | 2;
  controllers: string[];
  /** Its super options (`rw,nsdelegate,favordynmods`, or a v1 hierarchy's controllers among them). */
  options: string[];
}

/** The cgroup hierarchies in a mountinfo text (proc(5)). */
export function parseMounts(mountinfo: string): Mount[] {
  const out: Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const fstype = right[0];
    const path = left[4];
    if (!path || (fstype !== 'cgroup2' && fstype !== 'cgroup')) continue;
    const root = left[3] ?? '/';
    const options = (right[2] ?? '').split(',');
    if (fstype === 'cgroup2') out.push({ path, root, version: 2, controllers: [], options });
    else out.push({ path, root, version: 1, controllers: options.filter((o) => ['memory', 'pids', 'cpu', 'freezer'].includes(o)), options });
  }
  return out;
}

/** This process's cgroup hierarchies; throws where /proc cannot be read. */
export function readMounts(): Mount[] {
  return parseMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
}

function tryMkdir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

/** Enable controllers for children of `dir` (v2); returns those that took. */
function enableV2<C extends string>(dir: string, wanted: C[]): C[] {
  const ok: C[] = [];
  for (const c of wanted) {
    try {
      writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}`);
      ok.push(c);
    } catch {
      /* not delegated here: that controller is not enforced through v2 */
    }
  }
  return ok;
}

/**
 * Find writable hierarchies and prepare <mount>/trl/<instance>. Returns null
 * when no hierarchy is writable (not root, no delegation): the caller then
 * tracks processes by scanning /proc.
 */
export function setupCgroups(instanceId: string): CgroupLayout | null {
  let mounts: Mount[];
  try {
    mounts = readMounts();
  } catch {
    return null;
  }
  const controllers: CgroupLayout['controllers'] = {};
  let tracking: CgroupLayout['tracking'] | null = null;

  const v2 = mounts.find((m) => m.version === 2);
  if (v2 && tryMkdir(join(v2.path, 'trl', instanceId))) {
    tracking = { root: v2.path, version: 2, canKill: existsSync(join(v2.path, 'trl', 'cgroup.kill')) };
    let available: string[] = [];
    try {
      available = readFileSync(join(v2.path, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      /* no controllers file: tracking only */
    }
    const wanted = (['memory', 'pids', 'cpu'] as const).filter((c) => available.includes(c));
    if (wanted.length > 0) {
      let enabled: Controller[] = [...wanted];
      for (const dir of [v2.path, join(v2.path, 'trl'), join(v2.path, 'trl', instanceId)]) {
        enabled = enableV2(dir, enabled);
      }
      for (const c of enabled) controllers[c] = { root: v2.path, version: 2 };
    }
  }
  for (const c of ['memory', 'pids', 'cpu'] as const) {
    if (controllers[c]) continue;
    const m = mounts.find((x) => x.version === 1 && x.controllers.includes(c));
    if (m && tryMkdir(join(m.path, 'trl', instanceId))) controllers[c] = { root: m.path, version: 1 };
  }
  if (!tracking) {
    const pids = controllers.pids;
    if (!pids) return null;
    tracking = { root: pids.root, version: 1, canKill: false };
  }
  const usesV1 = Object.values(controllers).some((c) => c.version === 1);
  const kind = tracking.version === 1 ? 'cgroup-v1' : usesV1 ? 'cgroup-hybrid' : 'cgroup-v2';
  return { tracking, controllers, kind, migrations: migrationCost(mounts, release(), tracking.root) };
}

export function instanceDir(root: string, instanceId: string): string {
  return join(root, 'trl', instanceId);
}

/** All roots a layout touches (tracking first), deduplicated. */
export function layoutRoots(layout: CgroupLayout): string[] {
  const roots = [layout.tracking.root, ...Object.values(layout.controllers).map((c) => c.root)];
  return [...new Set(roots)];
}

/** Pids in `dir` and every cgroup below it. */
export function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string) => {
    let text: string;
    try {
      text = readFileSync(join(d, 'cgroup.procs'), 'utf8');
    } catch {
      return;
    }
    for (const l of text.split('\n')) if (l) pids.push(Number(l));
    let entries: string[];
    try {
      entries = readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(join(d, e));
  };
  walk(dir);
  return pids;
}

/** SIGKILL everything in `dir` at once where the kernel offers cgroup.kill (v2, Linux ≥ 5.14). */
export function cgroupKill(dir: string): boolean {
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
    return true;
  } catch {
    return false;
  }
}

/** Remove `dir` and the cgroups below it; cgroups still holding processes stay (best effort). */
export function removeCgroup(dir: string): boolean {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return !existsSync(dir);
  }
  for (const e of entries) removeCgroup(join(dir, e));
  try {
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

export function writeCgroupFile(dir: string, file: string, value: string): boolean {
  try {
    writeFileSync(join(dir, file), value);
    return true;
  } catch {
    return false;
  }
}

export function readCgroupFile(dir: string, file: string): string | null {
  try {
    return readFileSync(join(dir, file), 'utf8').trim();
  } catch {
    return null;
  }
}

export function readCgroupNumber(dir: string, file: string): number | null {
  const v = readCgroupFile(dir, file);
  const n = v === null ? NaN : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** A `key value` line of a flat-keyed cgroup file (cpu.stat, memory.events, memory.oom_control). */
export function readCgroupStat(dir: string, file: string, key: string): number | null {
  const text = readCgroupFile(dir, file);
  if (text === null) return null;
  for (const line of text.split('\n')) {
    const [k, v] = line.split(' ');
    if (k === key && v !== undefined) return Number(v);
  }
  return null;
}

/**
 * The memory cgroup of process `pid` as a directory here, with the file that
 * counts its OOM kills (`oom_kill` in memory.oom_control on v1, in
 * memory.events on v2); null when it cannot be found or read (another pid or
 * cgroup namespace, no memory controller mounted).
 */
export function oomCounterOf(pid: number): { dir: string; file: string } | null {
  let lines: string[];
  let mounts: Mount[];
  try {
    lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    mounts = readMounts();
  } catch {
    return null;
  }
  const v1 = lines.map((l) => l.split(':')).find((f) => f.length >= 3 && (f[1] ?? '').split(',').includes('memory'));
  const v2 = lines.find((l) => l.startsWith('0::'));
  const candidates: { cgroup: string; mount: Mount | undefined; file: string }[] = [];
  if (v1) candidates.push({ cgroup: v1.slice(2).join(':'), mount: mounts.find((m) => m.version === 1 && m.controllers.includes('memory')), file: 'memory.oom_control' });
  if (v2) candidates.push({ cgroup: v2.slice(3), mount: mounts.find((m) => m.version === 2), file: 'memory.events' });
  for (const { cgroup, mount, file } of candidates) {
    if (!mount) continue;
    const root = mount.root === '/' ? '' : mount.root;
    if (!cgroup.startsWith(`${root}/`) && cgroup !== root) continue;
    const dir = join(mount.path, cgroup.slice(root.length));
    if (readCgroupStat(dir, file, 'oom_kill') !== null) return { dir, file };
  }
  return null;
}
