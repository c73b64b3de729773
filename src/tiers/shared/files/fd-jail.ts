import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { fail, fromErrno } from './file-op-error.js';

/** open(2) flags Node does not name (the same on x86_64 and aarch64). */
export const O_PATH = 0o10000000;
/** Open an entry itself, never what it points to, and read nothing (a FIFO does not block). */
const ENTRY = O_PATH | constants.O_NOFOLLOW;
/** Symlinks followed in one resolution at most, as the kernel's own limit. */
const MAX_LINKS = 40;

/**
 * `/proc/self/fd/N/name`: the kernel resolves `name` inside the directory
 * descriptor N refers to — the magic link jumps to that very directory,
 * wherever it now is — so this is openat(N, name) for Node, which has no
 * openat. Without `name`, the object N itself (reopening an O_PATH one).
 */
export function at(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

export interface Resolved {
  /** Directory holding the final entry (the root when the path is the root). */
  parent: number;
  /** The final entry's name in `parent`; null for the root itself. */
  name: string | null;
  /** O_PATH descriptor of the final entry; null when it does not exist. */
  fd: number | null;
  st: Stats | null;
  /** Components from the root to the final entry, after every symlink. */
  rel: string[];
  /** Close every descriptor of the resolution (never the root). */
  close(): void;
}

export interface ResolveOptions {
  /** Follow a symlink in the final component (inside the workspace only). */
  follow: boolean;
  /** The final component may be missing (then `fd` is null). */
  missingOk: boolean;
  /** Create missing directories on the way with this mode; null: PATH_NOT_FOUND. */
  makeParents?: number | null;
}

/**
 * The workspace jail of one session, enforced where each file is opened:
 * a path is resolved one component at a time from a descriptor of the
 * workspace, each component opened with O_PATH|O_NOFOLLOW relative to the
 * directory descriptor before it and checked (a directory to go on, a
 * symlink to read and resolve the same way). `..` never reaches the kernel:
 * it pops the chain of descriptors, and refuses above the root. A symlink's
 * absolute target must name the workspace (by one of its absolute paths);
 * anything else is PATH_OUTSIDE_WORKSPACE. What is finally operated on is
 * the descriptor (or a name in its directory descriptor) that was checked,
 * so swapping a directory for a symlink at any moment changes nothing: the
 * swap is either seen and resolved inside, or not seen at all.
 */
export class Jail {
  /** Absolute paths of the workspace (as given, real), as component lists. */
  private readonly prefixes: string[][];

  constructor(
    /** O_PATH descriptor of the workspace; owned by the caller, never closed here. */
    readonly root: number,
    workspacePaths: readonly string[],
  ) {
    this.prefixes = [...new Set(workspacePaths)].map(components);
  }

  resolve(path: readonly string[], opts: ResolveOptions): Resolved {
    const chain: { fd: number; name: string }[] = [];
    const top = () => chain[chain.length - 1]?.fd ?? this.root;
    const rel = () => chain.map((c) => c.name);
    const closeAll = () => {
      for (const c of chain.splice(0)) closeQuietly(c.fd);
    };
    const queue = [...path];
    let links = 0;
    try {
      if (queue.length === 0) return this.rootItself();
      while (queue.length > 0) {
        const name = queue.shift()!;
        if (name === '' || name === '.') continue;
        if (name === '..') {
          const up = chain.pop();
          if (!up) throw fail('PATH_OUTSIDE_WORKSPACE', rel(), 'a symlink on the way leads above the workspace');
          closeQuietly(up.fd);
          continue;
        }
        const last = queue.length === 0;
        const dir = top();
        let fd: number;
        try {
          fd = openSync(at(dir, name), ENTRY);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' && last && opts.missingOk) return this.done(dir, name, null, null, [...rel(), name], closeAll);
          if (code === 'ENOENT' && !last && opts.makeParents != null) {
            makeDir(dir, name, opts.makeParents, [...rel(), name]);
            queue.unshift(name);
            continue;
          }
          throw fromErrno(err, [...rel(), name]);
        }
        const st = fstatSync(fd);
        if (st.isSymbolicLink()) {
          if (last && !opts.follow) return this.done(dir, name, fd, st, [...rel(), name], closeAll);
          let target: string;
          try {
            target = readlinkSync(at(dir, name));
          } catch (err) {
            // Replaced since it was opened (no longer a link, or gone): resolve the name again. Whatever
            // link is read here, its target is resolved inside the jail like any other.
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== 'EINVAL' && code !== 'ENOENT') throw fromErrno(err, [...rel(), name]);
            if (++links > MAX_LINKS) throw fail('PATH_NOT_FOUND', [...rel(), name], 'it kept changing while it was being resolved');
            queue.unshift(name);
            continue;
          } finally {
            closeQuietly(fd);
          }
          if (++links > MAX_LINKS) throw fail('INVALID_PARAMS', [...rel(), name], 'too many levels of symbolic links');
          if (target.startsWith('/')) {
            const inside = this.strip(target);
            if (inside === null) throw fail('PATH_OUTSIDE_WORKSPACE', [...rel(), name], `a symlink to ${target}, outside the workspace`);
            closeAll();
            queue.unshift(...inside);
          } else {
            queue.unshift(...target.split('/'));
          }
          continue;
        }
        if (last) return this.done(dir, name, fd, st, [...rel(), name], closeAll);
        if (!st.isDirectory()) {
          closeQuietly(fd);
          throw fail('NOT_A_DIRECTORY', [...rel(), name]);
        }
        chain.push({ fd, name });
      }
      // The path ended in '..' or '.' components: what is left on top is the final entry.
      const end = chain.pop();
      if (!end) return this.rootItself();
      return this.done(top(), end.name, end.fd, fstatSync(end.fd), [...rel(), end.name], closeAll);
    } catch (err) {
      closeAll();
      throw fromErrno(err, rel());
    }
  }

  /** The components of an absolute path inside the workspace, or null when it names no part of it. */
  strip(absolute: string): string[] | null {
    const parts = absolute.split('/').filter((p) => p !== '' && p !== '.');
    for (const prefix of this.prefixes) {
      if (prefix.length <= parts.length && prefix.every((p, i) => parts[i] === p)) return parts.slice(prefix.length);
    }
    return null;
  }

  private rootItself(): Resolved {
    return { parent: this.root, name: null, fd: this.root, st: fstatSync(this.root), rel: [], close: () => undefined };
  }

  private done(parent: number, name: string, fd: number | null, st: Stats | null, rel: string[], closeChain: () => void): Resolved {
    return {
      parent,
      name,
      fd,
      st,
      rel,
      close: () => {
        if (fd !== null) closeQuietly(fd);
        closeChain();
      },
    };
  }
}

function makeDir(dir: number, name: string, mode: number, rel: string[]): void {
  try {
    mkdirSync(at(dir, name), mode);
  } catch (err) {
    // Made meanwhile by someone else: the resolution opens and checks it next.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromErrno(err, rel);
  }
}

export function components(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}

/** The FileStat type of lstat/fstat data. */
export function entryType(st: Stats): 'file' | 'dir' | 'symlink' | 'other' {
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
}

/** The id of the mount a descriptor is on (/proc/self/fdinfo: st_dev cannot tell two bind mounts of one filesystem apart). */
export function mountId(fd: number): number {
  const m = /^mnt_id:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return m ? Number(m[1]) : -1;
}

/**
 * Whether the entry `fd` (opened from its directory `dirFd`) is a mount
 * point: its own mount is not its directory's. The isolated tiers mount
 * what they protect (workspace-guard.ts) over the workspace; a process
 * outside the sandbox's mount namespace — a files helper — could rename or
 * unlink such a dentry (the kernel refuses that only to processes that see
 * the mount), so every change of an entry checks this first.
 */
export function isMountPoint(fd: number, dirFd: number): boolean {
  return mountId(fd) !== mountId(dirFd);
}
