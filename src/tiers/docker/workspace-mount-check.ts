import { realpathSync, statSync } from 'node:fs';
import { errnoCode } from '../shared/thrown.js';

/**
 * Whether the container got the workspace that was checked. The workspace is
 * checked by path at session.create and the engine bind-mounts that path
 * later: had it been swapped for a link in between (by a command of another
 * session that can write its parent), the container would have the link's
 * target. Once the container runs, the directory at the workspace's path in
 * its mount namespace (through its first process's /proc/<pid>/root) must be
 * the very directory the path names on the host now, with no link on the way
 * (realpath is the path itself). A swap before the mount leaves them apart
 * whatever is at the path afterwards: a directory cannot be linked twice.
 *
 * Returns the refusal, or null when they match or the check cannot be made:
 * no such process here (the engine's /proc is not this machine's) or no right
 * to look into it (a container user that is neither root's nor the daemon's).
 * gVisor's containers are not looked into: their files are served by its own
 * process, whose root is not the container's.
 */
export function mountedWorkspaceProblem(pid: number, workspace: string): string | null {
  let inside;
  try {
    inside = statSync(`/proc/${pid}/root${workspace}`, { bigint: true });
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EACCES' || code === 'EPERM' || code === 'ESRCH' || !pidIsHere(pid)) return null;
    return `the container has no directory at its workspace path ${workspace} (${code ?? 'unreadable'}); was it removed or replaced?`;
  }
  let real: string;
  let outside;
  try {
    real = realpathSync(workspace);
    outside = statSync(real, { bigint: true });
  } catch (err) {
    return `the workspace ${workspace} is gone from the daemon's machine since it was checked (${errnoCode(err) ?? 'unreadable'})`;
  }
  if (real !== workspace) return `the workspace ${workspace} became a link to ${real} after it was checked; create the session again with a directory`;
  if (inside.dev !== outside.dev || inside.ino !== outside.ino) {
    return `the container mounted another directory than the workspace ${workspace} (it was replaced while the container started); create the session again`;
  }
  return null;
}

function pidIsHere(pid: number): boolean {
  try {
    statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
