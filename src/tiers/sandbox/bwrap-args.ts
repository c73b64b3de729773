import { join } from 'node:path';

/**
 * The bubblewrap argument list of one sandbox, built as data from what the
 * host has (docs/security.md, isolation tiers). Nothing here touches the filesystem: `probe` answers
 * what a path is, so the layout is unit-tested without a sandbox.
 *
 * Layout: the system (/usr, /etc, /opt and the /bin, /lib… links) read-only;
 * the daemon user's home read-only with its secret stores hidden; the
 * workspace read-write, bound through a checked descriptor, with what
 * workspace-guard.ts protects read-only or uncreatable;
 * private /tmp, /run, /proc and /dev; no network unless asked; own pid, ipc
 * and uts namespaces; a new terminal session; no capabilities.
 */
export type PathKind = 'dir' | 'file' | 'symlink' | null;

export interface HostProbe {
  kind(path: string): PathKind;
  /** Target of a symlink (as written in the link). */
  readlink(path: string): string;
  /** The path with every symlink resolved. */
  realpath(path: string): string;
}

/** A path the sandbox binds through a descriptor the daemon opened and checked (no symlink swap between check and mount). */
export interface BoundPath {
  path: string;
  /** Descriptor number in bwrap's process; null: bind by path. */
  fd: number | null;
}

export interface SandboxLayout {
  workspace: BoundPath;
  /** What the workspace protects (workspace-guard.ts), each bound through its descriptor. */
  guard: { mountPoints: BoundPath[]; readOnly: BoundPath[]; ghosts: string[] };
  /** An empty directory of the daemon's, mounted read-only over ghosts. */
  emptyDir: string;
  network: boolean;
  /** The daemon user's home ('' or '/' for none). */
  home: string;
  /** Running as root: drop every capability explicitly. Otherwise bwrap makes a user namespace. */
  root: boolean;
  /** More paths to hide (env file, logs, runtime directory, operator's list). */
  hide: string[];
  /** Descriptor bwrap writes its JSON info (the sandbox's pid) to. */
  infoFd: number;
  /** Size cap of the private /tmp, in bytes. */
  tmpBytes: number;
  /** An empty regular file mounted over hidden files (/dev/null would not open: bwrap mounts are nodev). */
  emptyFile: string;
}

/** Credential stores under $HOME that no sandboxed command may read. */
export const HOME_SECRET_STORES = [
  '.ssh',
  '.aws',
  '.azure',
  '.config/gcloud',
  '.config/gh',
  '.config/hub',
  '.docker',
  '.kube',
  '.gnupg',
  '.password-store',
  '.local/share/keyrings',
  '.terraform.d',
  '.vault-token',
  '.netrc',
  '.npmrc',
  '.pypirc',
  '.git-credentials',
  '.pgpass',
  '.my.cnf',
] as const;

/** System files that hold credentials even though /etc is otherwise readable. */
const SYSTEM_SECRETS = ['/etc/shadow', '/etc/gshadow', '/etc/shadow-', '/etc/gshadow-', '/etc/sudoers', '/etc/ssh'];

const SYSTEM_LINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** The `bwrap` arguments up to (not including) `--` and the program. */
export function bwrapArgs(layout: SandboxLayout, probe: HostProbe): string[] {
  const a: string[] = ['--die-with-parent', '--new-session', '--unshare-pid', '--as-pid-1', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--hostname', 'trl-sandbox'];
  if (!layout.network) a.push('--unshare-net');
  if (layout.root) a.push('--cap-drop', 'ALL');
  else a.push('--unshare-user');

  a.push('--ro-bind', '/usr', '/usr');
  for (const p of SYSTEM_LINKS) {
    const kind = probe.kind(p);
    if (kind === 'symlink') a.push('--symlink', probe.readlink(p), p);
    else if (kind === 'dir') a.push('--ro-bind', p, p);
  }
  a.push('--ro-bind', '/etc', '/etc');
  for (const p of ['/opt', '/srv']) if (probe.kind(p) === 'dir') a.push('--ro-bind', p, p);
  a.push('--proc', '/proc');
  if (layout.root) a.push('--dev', '/dev');
  else {
    // bwrap's --dev mounts a devpts, which as an ordinary user makes it nest a second user
    // namespace that owns nothing else: a command could not join the sandbox's mount, pid and net
    // namespaces from there. A hand-built /dev has what commands use, without new ptys.
    a.push('--tmpfs', '/dev');
    for (const node of ['null', 'zero', 'full', 'random', 'urandom', 'tty']) a.push('--dev-bind', `/dev/${node}`, `/dev/${node}`);
    a.push('--symlink', '/proc/self/fd', '/dev/fd');
    ['stdin', 'stdout', 'stderr'].forEach((n, fd) => a.push('--symlink', `/proc/self/fd/${fd}`, `/dev/${n}`));
    // Without a memory cgroup (an ordinary user's daemon) memory_bytes is an address-space limit, which tmpfs
    // pages escape: /dev/shm gets /tmp's cap, and /dev itself (the commands' user owns that tmpfs) is made
    // read-only once built, so that neither holds more than the cap of /tmp (each was half the RAM).
    a.push('--size', String(layout.tmpBytes), '--tmpfs', '/dev/shm');
    a.push('--remount-ro', '/dev');
  }
  a.push('--perms', '1777', '--size', String(layout.tmpBytes), '--tmpfs', '/tmp');
  // /run holds the trl socket, docker.sock and D-Bus: none of it belongs in a sandbox.
  a.push('--tmpfs', '/run', '--dir', '/var', '--symlink', '../tmp', '/var/tmp');
  if (layout.network && probe.kind('/run/systemd/resolve') === 'dir') a.push('--ro-bind', '/run/systemd/resolve', '/run/systemd/resolve');

  const home = layout.home !== '/' ? layout.home : '';
  // Directories bwrap makes on the way to a mount point are 0700 root's: commands that run as another
  // user could not reach their workspace. Make the way there first, searchable by all.
  const ways = new Set([...ancestors(layout.workspace.path), ...(home ? ancestors(home) : [])]);
  for (const d of [...ways].sort((x, y) => x.length - y.length)) a.push('--perms', '0755', '--dir', d);
  if (home && probe.kind(home) === 'dir') a.push('--ro-bind', home, home);
  bind(a, '--bind', layout.workspace);
  // Hidden after the workspace is bound, so a workspace that contains them hides them too.
  const hidden = [...SYSTEM_SECRETS, ...(home ? HOME_SECRET_STORES.map((s) => join(home, s)) : []), ...layout.hide];
  for (const p of hidden) hide(a, p, probe, layout.emptyFile);
  // Repositories' .git become mount points (rename and rmdir of a mount point fail), then read-only parts on top.
  for (const m of layout.guard.mountPoints) bind(a, '--bind', m);
  for (const r of layout.guard.readOnly) bind(a, '--ro-bind', r);
  for (const g of layout.guard.ghosts) a.push('--ro-bind', layout.emptyDir, g);
  a.push('--chdir', '/', '--info-fd', String(layout.infoFd));
  return a;
}

/** `/a/b/c` → `/a`, `/a/b`. */
function ancestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.slice(0, -1).map((_, i) => '/' + parts.slice(0, i + 1).join('/'));
}

/** `--bind`/`--ro-bind` of a path, through its descriptor when there is one. */
function bind(a: string[], how: '--bind' | '--ro-bind', p: BoundPath): void {
  if (p.fd === null) a.push(how, p.path, p.path);
  else a.push(`${how}-fd`, String(p.fd), p.path);
}

/** A directory becomes an empty read-only tmpfs, a file reads as empty. */
function hide(a: string[], path: string, probe: HostProbe, emptyFile: string): void {
  let kind = probe.kind(path);
  // A store that is a link (~/.ssh -> /data/keys) is hidden where it points.
  if (kind === 'symlink') {
    path = probe.realpath(path);
    kind = probe.kind(path);
  }
  if (kind === 'dir') a.push('--perms', '0555', '--tmpfs', path, '--remount-ro', path);
  else if (kind === 'file') a.push('--ro-bind', emptyFile, path);
}
