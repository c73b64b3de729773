import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { StartupError } from './startup-error.js';

/**
 * A socket directly in a sticky, world-writable directory such as /tmp
 * (claw-core's `/tmp/trl.sock`). Anyone may create names there, but the
 * sticky bit lets only a name's owner (and root) remove or rename it. So trl's
 * own files there are safe once created — the socket 0600 from its first
 * instant, the record with O_EXCL|O_NOFOLLOW — as long as trl never follows,
 * reuses or removes a name someone else made: an attacker's symlink at
 * `/tmp/trl.sock.daemon.json` must not make a root daemon write through it,
 * and an attacker's socket at `/tmp/trl.sock` must not receive clients' commands.
 */

const STICKY = 0o1000;

/** Sticky and writable by everyone: names in it belong to whoever made them. */
export function isSharedSticky(st: Stats): boolean {
  return st.isDirectory() && (st.mode & STICKY) !== 0 && (st.mode & 0o002) !== 0;
}

/**
 * The shared directory and every directory above it must be root's or ours,
 * and none writable by others unless sticky: otherwise someone could rename it
 * away and put a directory of their own in its place.
 */
export function checkSharedDir(dir: string, uid: number): void {
  for (let d = dir; ; d = dirname(d)) {
    const st = lstatSync(d);
    if (st.uid !== 0 && st.uid !== uid) {
      throw new StartupError(`${d} is owned by uid ${st.uid}, neither root nor this user (uid ${uid}): a socket below it is not safe; choose another --socket-path`);
    }
    if (d !== dir && (st.mode & 0o022) !== 0 && (st.mode & STICKY) === 0) {
      throw new StartupError(`${d} is writable by others without the sticky bit: a socket below it is not safe; choose another --socket-path`);
    }
    if (d === '/') return;
  }
}

/** What is at `path`, when it is not ours to use: a sentence for the refusal, or null (nothing, or ours). */
export function foreignEntry(path: string, uid: number): string | null {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return null;
  }
  if (st.uid !== uid) return `${path} exists and belongs to uid ${st.uid}, not to this user (uid ${uid})`;
  return null;
}

/** Refuse to start when a name we will create belongs to someone else. */
export function refuseForeign(path: string, uid: number): void {
  const foreign = foreignEntry(path, uid);
  if (foreign) {
    throw new StartupError(`${foreign}; trl never uses or removes another user's file in a shared directory: have its owner remove it, or choose another --socket-path`);
  }
}

/**
 * Write a file of ours that nobody else can have prepared: created with
 * O_EXCL|O_NOFOLLOW (a symlink or a file already there is never written
 * through), mode 0600. A stale one of ours is removed first; anyone else's is a refusal.
 */
export function writeExclusive(path: string, text: string, uid: number): void {
  refuseForeign(path, uid);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let fd;
  try {
    fd = openSync(path, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Made by someone else since the check: refused. Ours: the sticky bit lets nobody else swap it before the unlink.
    refuseForeign(path, uid);
    unlinkSync(path);
    // Someone who creates the name between the unlink and this open makes it fail, never succeed for them.
    fd = openSync(path, flags, 0o600);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** A regular file of ours, read without following a symlink; null when it is anything else or absent. */
export function readOwn(path: string, uid: number): string | null {
  let fd;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    return st.isFile() && st.uid === uid ? readFileSync(fd, 'utf8') : null;
  } finally {
    closeSync(fd);
  }
}

/** Remove a name only if it is ours. */
export function removeOwn(path: string, uid: number): void {
  if (foreignEntry(path, uid) !== null) return;
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/** After listening: the socket is a socket of ours, mode 0600 (what the umask made it). */
export function checkOwnSocket(path: string, uid: number): void {
  const st = lstatSync(path);
  if (!st.isSocket() || st.uid !== uid || (st.mode & 0o777) !== 0o600) {
    throw new StartupError(`${path} is not the socket this daemon created (mode 0600, uid ${uid}); choose another --socket-path`);
  }
}
