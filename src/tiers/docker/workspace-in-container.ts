/**
 * The workspace of a session on an engine that shares no filesystem with the
 * daemon (docs/docker-tier.md#remote-engines): a directory inside the
 * container, at the workspace's path, owned by the session's user. It is put
 * there before the container starts, as a one-entry tar through the engine's
 * archive API: the engine creates missing parents (root's, 0755) and leaves
 * existing ones as they are, and gives the entry the owner its header names —
 * which a capability-less exec could not (no CAP_CHOWN).
 */

const BLOCK = 512;
const WORKSPACE_MODE = 0o755;

/** The numeric owner of a container user `UID[:GID]`; null for a name, which only the image's /etc/passwd resolves. */
export function numericOwner(user: string): { uid: number; gid: number } | null {
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!m) return null;
  const uid = Number(m[1]);
  return { uid, gid: m[2] !== undefined ? Number(m[2]) : uid };
}

/** Why the user cannot own an in-container workspace, with the fix; null when it can. */
export function ownerProblem(user: string): string | null {
  return numericOwner(user)
    ? null
    : `the docker user '${user}' is a name, and on an engine that shares no filesystem the daemon makes each workspace inside the container owned by a numeric UID[:GID]: set --docker-user to the image's UID:GID for that name`;
}

/** A tar of one directory entry, `workspace` (absolute) owned by `owner`, mode 0755. */
export function workspaceTar(workspace: string, owner: { uid: number; gid: number }): Buffer {
  const rel = workspace.replace(/^\/+/, '').replace(/\/+$/, '');
  if (rel === '') throw new Error('the workspace cannot be / on an engine that shares no filesystem');
  const header = Buffer.alloc(BLOCK);
  const [prefix, name] = splitName(`${rel}/`);
  header.write(name, 0, 100, 'utf8');
  octal(header, 100, 8, WORKSPACE_MODE);
  octal(header, 108, 8, owner.uid);
  octal(header, 116, 8, owner.gid);
  octal(header, 124, 12, 0);
  octal(header, 136, 12, Math.floor(Date.now() / 1000));
  header.write('5', 156, 1, 'ascii'); // a directory
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return Buffer.concat([header, Buffer.alloc(2 * BLOCK)]);
}

/** ustar's name (100 bytes) and prefix (155 bytes), split at a slash. */
function splitName(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  for (let i = path.indexOf('/'); i !== -1 && i < path.length - 1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new Error(`the workspace path is too long for the engine's archive API (${path.length} characters): use a shorter path`);
}

function octal(header: Buffer, at: number, width: number, value: number): void {
  header.write(`${value.toString(8).padStart(width - 1, '0')}\0`, at, width, 'ascii');
}
