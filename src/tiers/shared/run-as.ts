import { statSync, type Stats } from 'node:fs';

/** uid and gid an isolated command runs as. */
export interface RunAs {
  uid: number;
  gid: number;
}

/** The unprivileged user of last resort (nobody:nogroup on Debian). */
export const NOBODY: RunAs = { uid: 65534, gid: 65534 };

/** The session's user cannot write its workspace: INVALID_PARAMS above, with the fix. */
export class WorkspaceAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkspaceAccessError';
  }
}

/** `UID[:GID]` (gid defaults to the uid). */
export function parseRunAs(spec: string): RunAs {
  const [u, g] = spec.split(':');
  const uid = Number(u);
  return { uid, gid: g === undefined ? uid : Number(g) };
}

/**
 * Who the commands of an isolated session run as. A daemon that is not root
 * runs them as itself (null: no switch; it cannot be anyone else, and it is
 * unprivileged). A root daemon never runs them as root: a root command, even
 * without capabilities, owns root's files, so it could leave a setuid-root
 * program in the workspace for the host to run. It runs them as the operator's
 * `isolated_user`, else as the workspace's owner (files made stay the owner's,
 * as with `docker run --user $(id -u)`), else, for a root-owned workspace, as
 * nobody. Group 0 is never used either (a setgid-root file). The user must be
 * able to write the workspace; if not, the session is refused with the fix.
 */
export function isolatedUser(configured: string | undefined, workspace: string, daemonUid = process.getuid?.() ?? 0): RunAs | null {
  if (daemonUid !== 0) return null;
  const st = statSync(workspace);
  let who: RunAs;
  if (configured !== undefined) who = parseRunAs(configured);
  else if (st.uid !== 0) who = { uid: st.uid, gid: st.gid !== 0 ? st.gid : NOBODY.gid };
  else who = NOBODY;
  if (who.uid === 0 || who.gid === 0) {
    throw new WorkspaceAccessError('isolated commands never run as uid or gid 0 (a root command could leave setuid-root files behind); set --isolated-user to another uid:gid');
  }
  if (!canWrite(st, who)) {
    throw new WorkspaceAccessError(
      `the commands of this session run as uid ${who.uid} gid ${who.gid}, which cannot write the workspace ${workspace} ` +
        `(owner ${st.uid}:${st.gid}, mode ${(st.mode & 0o7777).toString(8)}); make it theirs (chown ${who.uid}:${who.gid} ${workspace}), ` +
        `or have the operator set --isolated-user to its owner`,
    );
  }
  return who;
}

/** Write and search permission on a directory by the mode bits (the checks the kernel makes, ACLs aside). */
function canWrite(st: Stats, who: RunAs): boolean {
  const bits = st.uid === who.uid ? (st.mode >> 6) & 7 : st.gid === who.gid ? (st.mode >> 3) & 7 : st.mode & 7;
  return (bits & 3) === 3;
}
