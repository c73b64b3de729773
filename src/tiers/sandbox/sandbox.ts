import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync } from 'node:fs';
import type { PinnedWorkspace } from '../shared/files/pinned-workspace.js';
import type { LocalMachine } from '../host/local-machine.js';
import { parentOf, TAG_VAR } from '../shared/process-table.js';
import { isolatedUser, type RunAs } from '../shared/run-as.js';
import { settledWithin } from '../shared/timers.js';
import { guardWorkspace } from '../shared/workspace-guard.js';
import { openLayout, type BoundLayout } from './bound-layout.js';
import { pinSandboxWorkspace } from './files.js';
import { waitReady } from './wait-ready.js';

/** The whole environment of the host-side processes that start or enter a sandbox: nothing of a command's. */
export const ENTRY_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The tracking tag of every process of a sandbox (bubblewrap's monitor, and
 * its pid 1, the holder: holder.ts): the daemon instance's, not a session's (no session tag has a
 * `~`). Bubblewrap binds a sandbox to its daemon with a parent-death signal
 * (`--die-with-parent`), but sets it only once its namespaces exist (and the
 * sandbox's pid 1 only once its mounts are in place): a daemon killed while a
 * sandbox starts (a warm one refilling) leaves that sandbox running. Tagged,
 * it is killed by the next daemon, as any process of a dead instance is.
 */
export function sandboxTag(instanceId: string): string {
  return `${instanceId}:~sandbox:`;
}

/** What a session asks of its sandbox; the rest of its options (tag, limits) are its processes', not the sandbox's. */
export interface SandboxShape {
  /** Real path, already through the operator's workspace policy. */
  workspace: string;
  network: boolean;
}

/** What starting a sandbox needs of its tier. */
export interface SandboxStarter {
  machine: LocalMachine;
  bwrap: string;
  /** UID[:GID] of --isolated-user. */
  user: string | undefined;
  /** The whole bwrap command line of a sandbox (its arguments, `--` and the holder), for this shape and these bound paths. */
  argv(shape: SandboxShape, bound: BoundLayout): string[];
  /** Sandboxes not yet killed (the tier kills them at close). */
  live: Set<{ kill(): Promise<void> }>;
}

/**
 * Everything a sandbox of this shape would be built from now: the user its
 * commands run as, the workspace's guard, the bound descriptors, bwrap's
 * arguments, and a fingerprint of all of it (the arguments, what each bound
 * descriptor is on disk, the user). Two sandboxes with one fingerprint are
 * the same sandbox.
 */
function layoutNow(s: SandboxStarter, shape: SandboxShape) {
  if (shape.workspace === '/') throw new Error("workspace '/' would make the whole filesystem writable; pass a project directory as workspace");
  const runAs = isolatedUser(s.user, shape.workspace);
  const guard = guardWorkspace(shape.workspace, s.machine.ghosts);
  const { bound, fds } = openLayout(shape.workspace, guard);
  try {
    const argv = s.argv(shape, bound);
    const ids = fds.map((fd) => {
      const st = fstatSync(fd);
      return `${st.dev}:${st.ino}`;
    });
    return { runAs, guard, fds, argv, fingerprint: JSON.stringify([argv, ids, runAs]) };
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
}

/**
 * One started bubblewrap sandbox: its holder (bwrap, whose pid 1 is holder.ts's waiter),
 * the workspace pinned through it, the ghosts it mounted over. A session
 * owns one; the warm pool (sandbox-pool.ts) keeps some that no session owns
 * yet. Nothing in it is a session's: its processes, cgroups and limits are
 * made when a session adopts it.
 */
export class Sandbox {
  private constructor(
    private readonly starter: SandboxStarter,
    readonly shape: SandboxShape,
    private readonly holder: ChildProcess,
    /** Host pid of the sandbox's pid 1: its namespaces are the ones commands enter. */
    readonly nsPid: number,
    readonly runAs: RunAs | null,
    private readonly ghosts: string[],
    readonly workspace: PinnedWorkspace,
    /** layoutNow's fingerprint when it was started. */
    private readonly fingerprint: string,
  ) {}

  /** Start a sandbox and wait until its mounts are in place. */
  static async start(s: SandboxStarter, shape: SandboxShape): Promise<Sandbox> {
    const layout = layoutNow(s, shape);
    const ghosts = s.machine.ghosts;
    ghosts.acquire(layout.guard.ghosts);
    let child: ChildProcess;
    try {
      child = spawn(s.bwrap, layout.argv, {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe', ...layout.fds],
        cwd: '/',
        env: { PATH: ENTRY_PATH, [TAG_VAR]: sandboxTag(s.machine.instanceId) },
      });
    } catch (err) {
      ghosts.release(layout.guard.ghosts);
      throw err;
    } finally {
      for (const fd of layout.fds) closeSync(fd);
    }
    try {
      const nsPid = await waitReady(child);
      // Before any command runs: nothing inside can have moved the way to it yet.
      const workspace = pinSandboxWorkspace(nsPid, shape.workspace, layout.runAs);
      const sandbox = new Sandbox(s, shape, child, nsPid, layout.runAs, layout.guard.ghosts, workspace, layout.fingerprint);
      s.live.add(sandbox);
      return sandbox;
    } catch (err) {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
      ghosts.release(layout.guard.ghosts);
      throw err;
    }
  }

  /**
   * Why this sandbox (started earlier, unused) is not what a cold start would
   * build for its shape now, or null when it is: alive, and with the same
   * arguments, user and bound files — the same workspace directory (not one
   * swapped in at its path, nor a path that now goes through a symlink), the
   * same guarded paths, the same hidden ones.
   */
  staleness(): string | null {
    if (this.holder.exitCode !== null || this.holder.signalCode !== null || parentOf(this.nsPid) !== this.holder.pid) return 'it has ended';
    let now;
    try {
      now = layoutNow(this.starter, this.shape);
    } catch (err) {
      return `its layout cannot be built now (${err instanceof Error ? err.message : String(err)})`;
    }
    for (const fd of now.fds) closeSync(fd);
    return now.fingerprint === this.fingerprint ? null : 'its workspace, guard, user or hidden paths changed since it started';
  }

  /**
   * Kill the sandbox: its pid 1 first (the kernel then kills every process in
   * its pid namespace), then bubblewrap's monitor. Killing the monitor alone
   * relies on pid 1's parent-death signal; this does not. Once bubblewrap is
   * gone, so are its mounts: the ghosts it mounted over can be removed.
   */
  async kill(): Promise<void> {
    if (!this.starter.live.delete(this)) return;
    await this.workspace.close();
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      const gone = new Promise((r) => this.holder.once('exit', r));
      if (parentOf(this.nsPid) === this.holder.pid) {
        try {
          process.kill(this.nsPid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      this.holder.kill('SIGKILL');
      await settledWithin(gone, 2000);
    }
    this.starter.machine.ghosts.release(this.ghosts);
  }
}
