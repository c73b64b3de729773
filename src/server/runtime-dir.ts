import { lstatSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { StartupError } from './startup-error.js';

/**
 * The runtime directory holds the socket and the daemon record (DESIGN §5):
 * mode 0700, owned by the daemon's user, not a symlink.
 */
export function prepareRuntimeDir(socketPath: string): string {
  const dir = dirname(socketPath);
  try {
    lstatSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (st.isSymbolicLink()) {
    throw new StartupError(`runtime directory ${dir} is a symlink, which could redirect the socket; remove it (rm ${dir}) or choose another --socket-path`);
  }
  if (!st.isDirectory()) throw new StartupError(`${dir} is not a directory; remove it or choose another --socket-path`);
  if (st.uid !== uid) {
    throw new StartupError(`runtime directory ${dir} is owned by uid ${st.uid}, not by this user (uid ${uid}); chown ${uid} ${dir} or choose another --socket-path`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new StartupError(`runtime directory ${dir} has mode ${(st.mode & 0o777).toString(8)} and is open to group or others; fix it with chmod 700 ${dir}`);
  }
  return dir;
}

/** Refuse when a live daemon answers on the socket; remove a stale one. */
export async function claimSocket(socketPath: string): Promise<void> {
  let st;
  try {
    st = lstatSync(socketPath);
  } catch {
    return;
  }
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

export function readRecord(socketPath: string): DaemonRecord | null {
  try {
    const r = JSON.parse(readFileSync(recordPath(socketPath), 'utf8')) as DaemonRecord;
    return typeof r.instance_id === 'string' && /^[0-9a-f]+$/.test(r.instance_id) && Number.isInteger(r.pid) ? r : null;
  } catch {
    return null;
  }
}

/** The record names the instance and pid only: never an env value. */
export function writeRecord(socketPath: string, record: DaemonRecord): void {
  writeFileSync(recordPath(socketPath), JSON.stringify(record) + '\n', { mode: 0o600 });
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
