import { closeSync, constants, fstatSync, openSync, readlinkSync } from 'node:fs';
import type { WorkspaceGuard } from '../shared/workspace-guard.js';
import type { BoundPath } from './bwrap-args.js';

/** open(2) flags Node does not name (the same on x86_64 and aarch64). */
const O_PATH = 0o10000000;
/** bwrap's descriptors for the workspace and the guarded paths start here (0-2 stdio, 3 the info pipe). */
export const FIRST_BIND_FD = 4;

/** The workspace and its guarded paths, each with the descriptor it is bound through. */
export interface BoundLayout {
  workspace: BoundPath;
  guard: { mountPoints: BoundPath[]; readOnly: BoundPath[]; ghosts: string[] };
}

/**
 * Open the workspace and every guarded path without following a symlink in
 * the last component, and check that each descriptor is what was checked
 * (the kernel's own name for it, its type). bwrap then binds the descriptors,
 * so a directory swapped for a symlink after the check binds nothing new.
 */
export function openLayout(workspace: string, guard: WorkspaceGuard): { bound: BoundLayout; fds: number[] } {
  const fds: number[] = [];
  const open = (path: string, dir: boolean): BoundPath | null => {
    let fd: number;
    try {
      fd = openSync(path, O_PATH | constants.O_NOFOLLOW | (dir ? constants.O_DIRECTORY : 0));
    } catch {
      return null; // changed since the guard looked: nothing of it to bind
    }
    const st = fstatSync(fd);
    if (st.isSymbolicLink() || readlinkSync(`/proc/self/fd/${fd}`) !== path) {
      closeSync(fd);
      return null;
    }
    fds.push(fd);
    return { path, fd: FIRST_BIND_FD + fds.length - 1 };
  };
  try {
    const ws = open(workspace, true);
    if (!ws) throw new Error(`the workspace ${workspace} changed while the sandbox was being set up (a symlink?); try again`);
    const bound: BoundLayout = {
      workspace: ws,
      guard: {
        mountPoints: guard.mountPoints.map((p) => open(p, true)).filter((b): b is BoundPath => b !== null),
        readOnly: guard.readOnly.map((p) => open(p, false)).filter((b): b is BoundPath => b !== null),
        ghosts: guard.ghosts,
      },
    };
    return { bound, fds };
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
}
