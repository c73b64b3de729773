import { closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import { O_PATH } from '../shared/files/fd-jail.js';
import { PinnedWorkspace } from '../shared/files/pinned-workspace.js';
import type { RunAs } from '../shared/run-as.js';

/**
 * The jail of a sandbox session: its workspace opened through the
 * sandbox's own mount namespace (/proc/PID/root of its first process),
 * right after the sandbox is up and before any command runs, so that every
 * path below it crosses the sandbox's mounts — the read-only guards of
 * workspace-guard.ts and its uncreatable names hold for the files API as
 * they do for commands. File operations run in helper processes as the
 * session's user (never root), off the event loop.
 */
export function pinSandboxWorkspace(nsPid: number, workspace: string, runAs: RunAs | null): PinnedWorkspace {
  const rootFd = openSync(`/proc/${nsPid}/root${workspace}`, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  const inside = fstatSync(rootFd);
  const host = statSync(workspace);
  if (inside.ino !== host.ino || inside.dev !== host.dev) {
    closeSync(rootFd);
    throw new Error(`the sandbox's ${workspace} is not the workspace bound into it; try again`);
  }
  return new PinnedWorkspace(rootFd, [workspace], runAs, false);
}
