import { readdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownedByUs } from './owned-by-us.js';

const PREFIX = 'trl-ghosts-';

/**
 * The empty directories isolated sessions mount over absent protected paths
 * of their workspace (workspace-guard.ts). The mount point is created on the
 * host, in the workspace, by bubblewrap or the container runtime, and outlives
 * the sandbox: it is removed when the last session using it ends. Removing it
 * earlier would lift the mount in every other sandbox on that workspace (the
 * kernel detaches mounts on a removed dentry). The list is kept in a file
 * named after the daemon instance (paths only), so a successor removes what a
 * crashed daemon left.
 */
export class GhostMounts {
  private readonly users = new Map<string, number>();
  private readonly record: string;

  constructor(instanceId: string) {
    this.record = recordOf(instanceId);
  }

  /** Whether a live session holds `path` as a ghost (the directory there is ours, not the workspace's). */
  has(path: string): boolean {
    return this.users.has(path);
  }

  /** A session mounts over these paths. */
  acquire(paths: string[]): void {
    if (paths.length === 0) return;
    for (const p of paths) this.users.set(p, (this.users.get(p) ?? 0) + 1);
    this.save();
  }

  /** A session that mounted over these paths is gone: remove those no other session uses. */
  release(paths: string[]): void {
    if (paths.length === 0) return;
    for (const p of paths) {
      const n = (this.users.get(p) ?? 1) - 1;
      if (n > 0) this.users.set(p, n);
      else {
        this.users.delete(p);
        removeGhost(p);
      }
    }
    this.save();
  }

  /** Shutdown: every session is gone. */
  close(): void {
    for (const p of this.users.keys()) removeGhost(p);
    this.users.clear();
    try {
      unlinkSync(this.record);
    } catch {
      /* none written */
    }
  }

  private save(): void {
    try {
      if (this.users.size === 0) unlinkSync(this.record);
      else writeFileSync(this.record, JSON.stringify([...this.users.keys()]), { mode: 0o600 });
    } catch {
      /* best effort: the list only serves crash recovery */
    }
  }
}

function recordOf(instanceId: string): string {
  return join(tmpdir(), `${PREFIX}${instanceId}.json`);
}

/** An empty directory is removed; anything else (someone put a file in it, it is not ours) stays. */
function removeGhost(path: string): void {
  try {
    if (statSync(path).isDirectory()) rmdirSync(path);
  } catch {
    /* not empty, or already gone */
  }
}

/**
 * Instances (live or dead) with a ghost list. Only lists this user wrote count: the temp directory is everyone's,
 * and a list planted by another user would have the daemon remove whatever empty directories it names.
 */
export function ghostInstances(): string[] {
  try {
    return readdirSync(tmpdir())
      .filter((n) => n.startsWith(PREFIX) && n.endsWith('.json') && ownedByUs(join(tmpdir(), n), 'file'))
      .map((n) => n.slice(PREFIX.length, -'.json'.length));
  } catch {
    return [];
  }
}

/** Remove what a dead instance left mounted over; returns how many paths were listed. */
export function reapGhosts(instanceId: string): number {
  const record = recordOf(instanceId);
  if (!ownedByUs(record, 'file')) return 0;
  let paths: unknown;
  try {
    paths = JSON.parse(readFileSync(record, 'utf8'));
  } catch {
    return 0;
  }
  const list = Array.isArray(paths) ? paths.filter((p): p is string => typeof p === 'string') : [];
  for (const p of list) removeGhost(p);
  try {
    unlinkSync(record);
  } catch {
    /* gone */
  }
  return list.length;
}
