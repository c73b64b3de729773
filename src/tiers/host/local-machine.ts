import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Enforcement, Requirement } from '../tier.js';
import { FifoPool, removeFifoDirs } from '../shared/fifo-pool.js';
import { GhostMounts, ghostInstances, reapGhosts } from '../shared/ghost-mounts.js';
import { pidOfInstance } from '../shared/instance-id.js';
import { daemonIsDead, scanProcesses, selectTree } from '../shared/process-table.js';
import { signalAll } from '../shared/signals.js';
import { sleep } from '../shared/timers.js';
import { SLOW_MIGRATION_TEXT, type MigrationCost } from './cgroup-migrations.js';
import { cgroupKill, cgroupPids, instanceDir, layoutRoots, oomCounterOf, removeCgroup, setupCgroups, type CgroupLayout } from './cgroups.js';

const POLL_MS = 10;
/** How soon after a session.destroy its escaped processes are looked for (one scan for all sessions destroyed meanwhile). */
const SWEEP_MS = 200;

/**
 * What the daemon's local processes share, whichever tier starts them: the
 * cgroup layout, the FIFO pool for real stdio pipes, the ghost mounts of
 * isolated workspaces, the sweep for escaped processes, and crash recovery of
 * all of it. It exists whether or not the host tier is offered to clients.
 */
export class LocalMachine {
  readonly layout: CgroupLayout | null;
  /** Real pipes for stdio; null where mkfifo is missing (children then get socketpairs). */
  readonly fifos: FifoPool | null;
  /** Mount points over absent protected workspace paths, shared by the isolated tiers (ghost-mounts.ts). */
  readonly ghosts: GhostMounts;
  /** Tags of destroyed sessions whose escaped processes the next sweep kills. */
  private readonly sweepPending = new Set<string>();
  private sweepTimer: NodeJS.Timeout | null = null;

  /**
   * With `cgroups: container`: the OOM counter of the memory cgroup this
   * daemon runs in, which its sessions' commands share (a container's own);
   * null otherwise or where it cannot be read.
   */
  readonly ownOomCounter: { dir: string; file: string } | null;

  constructor(
    readonly instanceId: string,
    cgroups: 'auto' | 'off' | 'container',
  ) {
    this.layout = cgroups === 'auto' ? setupCgroups(instanceId) : null;
    this.ownOomCounter = cgroups === 'container' ? oomCounterOf(process.pid) : null;
    this.ghosts = new GhostMounts(instanceId);
    let fifos: FifoPool | null = null;
    try {
      fifos = new FifoPool(instanceId);
    } catch {
      /* no mkfifo: stdio falls back to Node's socketpairs (/dev/stdout cannot be reopened then) */
    }
    this.fifos = fifos;
  }

  /** What joining a session's cgroups costs a command (cgroup-migrations.ts); null without cgroups. */
  get migrations(): MigrationCost | null {
    return this.layout?.migrations ?? null;
  }

  /** For `trl doctor`: whether commands join their cgroups without waiting (none without cgroups: nothing to join). */
  migrationRequirements(): Requirement[] {
    const cost = this.migrations;
    if (!cost) return [];
    return [
      {
        need: 'favordynmods on a cgroup mount (a command after an idle moment joins its cgroup without waiting)',
        present: cost.fast,
        found: cost.fast ? `favordynmods on ${cost.mount}` : `not set: ${SLOW_MIGRATION_TEXT}; fix: ${cost.fix}`,
        optional: true,
      },
    ];
  }

  /** How processes are tracked and limited on this machine. */
  enforcement(): Enforcement {
    if (!this.layout) {
      return {
        process_tracking: 'proc-scan',
        limits: 'rlimits-only',
        detail: 'no writable cgroup hierarchy (run as root or delegate a cgroup): processes are found by an inherited tag and the process table; limits are per-process rlimits',
      };
    }
    const ctl = Object.entries(this.layout.controllers)
      .map(([c, v]) => `${c}:v${v.version}`)
      .join(', ');
    return {
      process_tracking: `cgroup-v${this.layout.tracking.version}`,
      limits: ctl ? this.layout.kind : 'rlimits-only',
      detail: `tracking in ${this.layout.tracking.root} (v${this.layout.tracking.version}${this.layout.tracking.canKill ? ', cgroup.kill' : ''}); limit controllers: ${ctl || 'none'}`,
    };
  }

  /** Kill what a dead instance left: its cgroups, tagged processes, FIFO directories and ghosts. Returns the processes killed. */
  async reapInstance(instanceId: string): Promise<number> {
    removeFifoDirs(instanceId);
    reapGhosts(instanceId);
    const prefix = `${instanceId}:`;
    let killed = 0;
    if (this.layout) {
      for (const root of layoutRoots(this.layout)) {
        const dir = instanceDir(root, instanceId);
        killed += signalAll(cgroupPids(dir), 'SIGKILL');
        if (root === this.layout.tracking.root && this.layout.tracking.canKill) cgroupKill(dir);
      }
    }
    for (let i = 0; i < 50; i++) {
      const pids = selectTree(scanProcesses(), (t) => t.startsWith(prefix));
      if (pids.length === 0) break;
      killed += signalAll(pids, 'SIGKILL');
      await sleep(POLL_MS);
    }
    if (this.layout) {
      for (const root of layoutRoots(this.layout)) {
        const dir = instanceDir(root, instanceId);
        for (let i = 0; i < 100 && !removeCgroup(dir); i++) await sleep(POLL_MS);
      }
    }
    return killed;
  }

  /**
   * Instances other than this one that left something behind (cgroups,
   * tagged processes, ghosts) and whose daemon is dead: crash leftovers on
   * any socket.
   */
  deadInstances(): string[] {
    const ids = new Set<string>();
    if (this.layout) {
      for (const root of layoutRoots(this.layout)) {
        try {
          for (const e of readdirSync(join(root, 'trl'), { withFileTypes: true })) if (e.isDirectory()) ids.add(e.name);
        } catch {
          /* no trl directory in this hierarchy */
        }
      }
    }
    const own = pidNamespace('self');
    for (const p of scanProcesses()) {
      const id = p.tag?.split(':')[0];
      // A tag written in another pid namespace (a trl inside a container: the docker tier's inner path) names a pid
      // of that namespace, which means nothing here; the docker tier reaps containers by their labels.
      if (id && pidNamespace(p.pid) === own) ids.add(id);
    }
    for (const id of ghostInstances()) ids.add(id);
    ids.delete(this.instanceId);
    return [...ids].filter((id) => {
      const pid = pidOfInstance(id);
      return pid !== null && daemonIsDead(pid);
    });
  }

  /**
   * Kill, soon and in one pass over the process table for all of them, what
   * destroyed sessions left outside their cgroups. Kept off session.destroy's
   * own path: a scan of every process's environment costs milliseconds, and
   * every ephemeral command destroys a session.
   */
  sweepLater(tagPrefix: string): void {
    this.sweepPending.add(tagPrefix);
    if (this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  private sweep(): number {
    this.sweepTimer = null;
    const prefixes = [...this.sweepPending];
    this.sweepPending.clear();
    if (prefixes.length === 0) return 0;
    return signalAll(
      selectTree(scanProcesses(), (t) => prefixes.some((p) => t.startsWith(p))),
      'SIGKILL',
    );
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweep();
    this.fifos?.close();
    this.ghosts.close();
    if (!this.layout) return;
    for (const root of layoutRoots(this.layout)) removeCgroup(instanceDir(root, this.instanceId));
  }
}

/** A process's pid namespace (`pid:[inode]`), or '' when it cannot be read. */
function pidNamespace(pid: number | 'self'): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return '';
  }
}
