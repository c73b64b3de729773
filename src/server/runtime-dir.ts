import { lstatSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { checkSharedDir, isSharedSticky, readOwn, refuseForeign, removeOwn, writeExclusive } from './shared-dir.js';
import { StartupError } from './startup-error.js';

/** Where the socket lives: its own runtime directory, or directly in a sticky shared one (shared-dir.ts). */
export interface RuntimeDir {
  dir: string;
  /** The directory is everyone's (/tmp): only the socket and its record are the daemon's. */
  shared: boolean;
}

const uidOf = () => process.getuid?.() ?? 0;

/**
 * The runtime directory holds the socket and the daemon record (DESIGN §5):
 * mode 0700, owned by the daemon's user, not a symlink. Or the socket sits
 * directly in a sticky world-writable directory such as /tmp, root's or
 * ours, where the daemon uses only names it creates itself (shared-dir.ts).
 */
export function prepareRuntimeDir(socketPath: string): RuntimeDir {
  const dir = dirname(socketPath);
  try {
    lstatSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  const st = lstatSync(dir);
  const uid = uidOf();
  if (st.isSymbolicLink()) {
    throw new StartupError(`runtime directory ${dir} is a symlink, which could redirect the socket; remove it (rm ${dir}) or choose another --socket-path`);
  }
  if (!st.isDirectory()) throw new StartupError(`${dir} is not a directory; remove it or choose another --socket-path`);
  if (isSharedSticky(st)) {
    checkSharedDir(dir, uid);
    refuseForeign(socketPath, uid);
    refuseForeign(recordPath(socketPath), uid);
    return { dir, shared: true };
  }
  if (st.uid !== uid) {
    throw new StartupError(`runtime directory ${dir} is owned by uid ${st.uid}, not by this user (uid ${uid}); chown ${uid} ${dir} or choose another --socket-path`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new StartupError(`runtime directory ${dir} has mode ${(st.mode & 0o777).toString(8)} and is open to group or others; fix it with chmod 700 ${dir}, or use a sticky directory such as /tmp`);
  }
  return { dir, shared: false };
}

/** Whether the socket sits directly in a sticky shared directory (read where the RuntimeDir is not at hand). */
export function inSharedDir(socketPath: string): boolean {
  try {
    return isSharedSticky(lstatSync(dirname(socketPath)));
  } catch {
    return false;
  }
}

/** The daemon's own paths (what workspaces and sandboxes keep away from): its runtime directory, or in a shared one its socket and record. */
export function runtimePaths(socketPath: string): string[] {
  return inSharedDir(socketPath) ? [socketPath, recordPath(socketPath)] : [dirname(socketPath)];
}

/** Refuse when a live daemon answers on the socket; remove a stale one (in a shared directory only one of ours). */
export async function claimSocket(socketPath: string, shared = false): Promise<void> {
  let st;
  try {
    st = lstatSync(socketPath);
  } catch {
    return;
  }
  if (shared) refuseForeign(socketPath, uidOf());
  if (!st.isSocket()) throw new StartupError(`${socketPath} exists and is not a socket; remove it or choose another --socket-path`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(socketPath);
    const t = setTimeout(() => {
      s.destroy();
      resolve(true);
    }, 2000);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
  if (live) {
    throw new StartupError(`a trl daemon is already running on ${socketPath}; stop it first (trl ping --socket ${socketPath} shows it) or choose another --socket-path`);
  }
  unlinkSync(socketPath);
}

export interface DaemonRecord {
  instance_id: string;
  pid: number;
  started_at: string;
  socket_path: string;
}

export function recordPath(socketPath: string): string {
  return `${socketPath}.daemon.json`;
}

export function readRecord(socketPath: string, shared = false): DaemonRecord | null {
  try {
    // In a shared directory a record someone else planted (to have us reap what it names) is not ours to trust.
    const text = shared ? readOwn(recordPath(socketPath), uidOf()) : readFileSync(recordPath(socketPath), 'utf8');
    if (text === null) return null;
    const r = JSON.parse(text) as DaemonRecord;
    return typeof r.instance_id === 'string' && /^[0-9a-f]+$/.test(r.instance_id) && Number.isInteger(r.pid) ? r : null;
  } catch {
    return null;
  }
}

/** The record names the instance and pid only: never an env value. */
export function writeRecord(socketPath: string, record: DaemonRecord, shared = false): void {
  const text = JSON.stringify(record) + '\n';
  if (shared) writeExclusive(recordPath(socketPath), text, uidOf());
  else writeFileSync(recordPath(socketPath), text, { mode: 0o600 });
}

/** Remove the socket and record at shutdown (in a shared directory only if they are still ours). */
export function removeRuntimeFiles(socketPath: string, shared: boolean, withSocket: boolean): void {
  const paths = withSocket ? [socketPath, recordPath(socketPath)] : [recordPath(socketPath)];
  for (const p of paths) {
    if (shared) removeOwn(p, uidOf());
    else removeQuietly(p);
  }
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
