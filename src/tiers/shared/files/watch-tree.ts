import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import type { ChangeKind, WatchSink } from '../../tier-files.js';
import { at, closeQuietly, O_PATH, type Jail } from './fd-jail.js';
import { fail } from './file-op-error.js';
import { IgnoreStack } from './gitignore.js';
import { readUpTo } from './jail-ops.js';

/** Directories one watch follows at most (each is an inotify watch and a descriptor). */
export const MAX_WATCHED_DIRS = 4096;
const MAX_GITIGNORE_BYTES = 1024 * 1024;

interface WatchedDir {
  fd: number;
  watcher: FSWatcher;
  /** Path from the workspace root, for .gitignore rules. */
  full: string;
  ignores: IgnoreStack;
  /** Entry name → inode, to tell a rename (an inode under a new name) from a create. */
  inodes: Map<string, number>;
}

/**
 * Watch a directory of the jail (and, recursive, every directory below but
 * `.git` and what .gitignore files exclude) with inotify, each directory
 * through its own O_PATH descriptor: inotify watches the inode it was
 * given, so a directory later swapped for a symlink is not followed, and a
 * new directory is only added once it is opened without following and
 * checked. Events: create, write, remove, rename (an inode seen before
 * under another name). Returns the stop.
 */
export function startWatch(jail: Jail, path: string[], recursive: boolean, sink: WatchSink): () => void {
  const r = jail.resolve(path, { follow: true, missingOk: false });
  let rootFd: number;
  let rootRel: string[];
  try {
    if (!r.st!.isDirectory()) throw fail('NOT_A_DIRECTORY', r.rel);
    rootFd = openSync(at(r.fd!), O_PATH | constants.O_DIRECTORY);
    rootRel = r.rel;
  } finally {
    r.close();
  }
  let ancestors = IgnoreStack.empty();
  for (let i = 0; i < rootRel.length; i++) ancestors = ancestors.with(rootRel.slice(0, i).join('/'), readIgnore(jail, rootRel.slice(0, i)));

  const dirs = new Map<string, WatchedDir>();
  let stopped = false;
  const stop = (reason?: string) => {
    if (stopped) return;
    stopped = true;
    for (const d of dirs.values()) {
      d.watcher.close();
      closeQuietly(d.fd);
    }
    dirs.clear();
    if (reason) sink.ended(reason);
  };
  const emit = (d: WatchedDir, kind: ChangeKind, rel: string, name: string, isDir: boolean) => {
    if (stopped || d.ignores.ignores(joinPath(d.full, name), isDir)) return;
    sink.change({ kind, rel });
  };

  const add = (rel: string, full: string, fd: number, inherited: IgnoreStack): void => {
    if (dirs.size >= MAX_WATCHED_DIRS) {
      closeQuietly(fd);
      stop(`more than ${MAX_WATCHED_DIRS} directories: watch a smaller tree, or without recursive`);
      return;
    }
    let names: string[] = [];
    try {
      names = readdirSync(at(fd));
    } catch {
      /* gone already */
    }
    const ignores = names.includes('.gitignore') ? inherited.with(full, readIgnoreAt(fd)) : inherited;
    const inodes = new Map<string, number>();
    for (const name of names) {
      const st = lstatQuietly(fd, name);
      if (st) inodes.set(name, st.ino);
    }
    const watcher = watch(at(fd), { persistent: false }, (event, name) => {
      if (typeof name === 'string' && name !== '') onEvent(rel, event, name);
    });
    watcher.on('error', () => (rel === '' ? stop('the watched directory is gone') : removeDir(rel)));
    const d: WatchedDir = { fd, watcher, full, ignores, inodes };
    dirs.set(rel, d);
    if (recursive) for (const name of names) addChild(rel, d, name);
  };

  const addChild = (parentRel: string, parent: WatchedDir, name: string): void => {
    if (name === '.git' || stopped || parent.ignores.ignores(joinPath(parent.full, name), true)) return;
    let fd: number;
    try {
      fd = openSync(at(parent.fd, name), O_PATH | constants.O_NOFOLLOW);
    } catch {
      return;
    }
    if (!fstatSync(fd).isDirectory()) {
      closeQuietly(fd);
      return;
    }
    add(joinPath(parentRel, name), joinPath(parent.full, name), fd, parent.ignores);
  };

  const removeDir = (rel: string): void => {
    for (const [k, d] of dirs) {
      if (k === rel || k.startsWith(rel + '/')) {
        d.watcher.close();
        closeQuietly(d.fd);
        dirs.delete(k);
      }
    }
  };

  const onEvent = (dirRel: string, event: string, name: string): void => {
    const d = dirs.get(dirRel);
    if (!d) return;
    const rel = joinPath(dirRel, name);
    const st = lstatQuietly(d.fd, name);
    if (event === 'change') return emit(d, 'write', rel, name, st?.isDirectory() ?? false);
    const before = d.inodes.get(name);
    if (!st) {
      if (before === undefined) return;
      d.inodes.delete(name);
      const wasDir = dirs.has(rel);
      if (wasDir) removeDir(rel);
      return emit(d, 'remove', rel, name, wasDir);
    }
    if (before === st.ino) return emit(d, 'write', rel, name, st.isDirectory());
    const renamedFrom = [...d.inodes].find(([n, ino]) => ino === st.ino && n !== name && !lstatQuietly(d.fd, n));
    d.inodes.set(name, st.ino);
    if (renamedFrom) d.inodes.delete(renamedFrom[0]);
    emit(d, renamedFrom ? 'rename' : 'create', rel, name, st.isDirectory());
    if (recursive && st.isDirectory() && !dirs.has(rel)) addChild(dirRel, d, name);
  };

  add('', rootRel.join('/'), rootFd, ancestors);
  return () => stop();
}

function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function lstatQuietly(dirFd: number, name: string) {
  try {
    return lstatSync(at(dirFd, name));
  } catch {
    return null;
  }
}

/** The .gitignore in a directory descriptor, never through a link, or null. */
function readIgnoreAt(dirFd: number): string | null {
  let fd: number;
  try {
    fd = openSync(at(dirFd, '.gitignore'), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    return fstatSync(fd).isFile() ? readUpTo(fd, 0, MAX_GITIGNORE_BYTES).toString('utf8') : null;
  } finally {
    closeSync(fd);
  }
}

function readIgnore(jail: Jail, dir: string[]): string | null {
  try {
    const r = jail.resolve(dir, { follow: false, missingOk: false });
    try {
      return r.st!.isDirectory() ? readIgnoreAt(r.fd!) : null;
    } finally {
      r.close();
    }
  } catch {
    return null;
  }
}
