import { constants, openSync, readlinkSync } from 'node:fs';
import { at, O_PATH } from '../shared/files/fd-jail.js';
import { PinnedWorkspace } from '../shared/files/pinned-workspace.js';

/**
 * The jail of a host session: its workspace opened as the session starts
 * (the path may be a symlink: what it names then is the jail). Absolute
 * paths may name it by the path given or its real path. The daemon is the
 * session's user, so the quick operations run in the daemon itself.
 */
export function pinHostWorkspace(workspace: string): PinnedWorkspace {
  const rootFd = openSync(workspace, O_PATH | constants.O_DIRECTORY);
  return new PinnedWorkspace(rootFd, [workspace, readlinkSync(at(rootFd))], null, true);
}
