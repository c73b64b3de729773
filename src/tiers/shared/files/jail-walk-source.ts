import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { at, entryType, type Jail, type Resolved } from './fd-jail.js';
import { readUpTo } from './jail-ops.js';
import type { SourceEntry, WalkSource } from './walk-engine.js';

const READ = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | constants.O_NOFOLLOW;
/**
 * Files read through one resolution of their directory at most: the docker
 * source's batch (walk-engine.ts PREFETCH_FILES), so a directory moved away
 * while the walk reads it is noticed as soon as there.
 */
const READS_PER_RESOLUTION = 256;

/**
 * A walk over a jail of descriptors: each directory is reached by a fresh
 * resolution that must end on a real directory (a symlink met there is an
 * entry, never a way in), its entries are lstat'ed through its descriptor,
 * and a file is opened by name in its directory with O_NOFOLLOW (a FIFO
 * does not block, a device is no regular file).
 */
export class JailWalkSource implements WalkSource {
  /** The directory the last reads went through, while it may serve more. */
  private held: { key: string; dir: Resolved; left: number } | null = null;

  constructor(private readonly jail: Jail) {}

  /** Close the descriptors the walk still holds. */
  close(): void {
    this.held?.dir.close();
    this.held = null;
  }

  async start(path: string[]): Promise<{ rel: string[] } & SourceEntry> {
    const r = this.jail.resolve(path, { follow: true, missingOk: false });
    try {
      const st = r.st!;
      return { rel: r.rel, name: r.name ?? '', type: entryType(st), size: st.size, mtimeMs: st.mtimeMs };
    } finally {
      r.close();
    }
  }

  async list(dir: string[]): Promise<SourceEntry[] | null> {
    const r = this.directory(dir);
    if (!r) return null;
    try {
      const fd = r.fd!;
      const out: SourceEntry[] = [];
      for (const name of readdirSync(at(fd))) {
        let st;
        try {
          st = lstatSync(at(fd, name));
        } catch {
          continue; // gone since the listing
        }
        const type = entryType(st);
        let target: string | undefined;
        if (type === 'symlink') {
          try {
            target = readlinkSync(at(fd, name));
          } catch {
            target = undefined;
          }
        }
        out.push({ name, type, size: st.size, mtimeMs: st.mtimeMs, ...(target !== undefined ? { target } : {}) });
      }
      return out;
    } finally {
      r.close();
    }
  }

  async read(file: string[], maxBytes: number): Promise<Buffer | 'large' | null> {
    const name = file[file.length - 1]!;
    const dirFd = this.directoryForRead(file.slice(0, -1));
    if (dirFd === null) return null;
    let fd: number;
    try {
      fd = openSync(at(dirFd, name), READ);
    } catch {
      return null; // a symlink (ELOOP), gone, or not readable
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return null;
      if (st.size > maxBytes) return 'large';
      const data = readUpTo(fd, 0, maxBytes + 1, st.size);
      return data.length > maxBytes ? 'large' : data;
    } finally {
      closeSync(fd);
    }
  }

  /** The descriptor of a file's directory: the held resolution while it serves, else a fresh one held for the next reads. */
  private directoryForRead(dir: string[]): number | null {
    const key = dir.join('/');
    if (this.held && this.held.key === key && this.held.left > 0) {
      this.held.left--;
      return this.held.dir.fd;
    }
    this.close();
    const r = this.directory(dir);
    if (!r) return null;
    this.held = { key, dir: r, left: READS_PER_RESOLUTION - 1 };
    return r.fd;
  }

  /** `dir` resolved in the jail without following links, when it is a directory (the caller closes it); else null. */
  private directory(dir: string[]): Resolved | null {
    let r;
    try {
      r = this.jail.resolve(dir, { follow: false, missingOk: false });
    } catch {
      return null;
    }
    if (r.st?.isDirectory()) return r;
    r.close();
    return null;
  }
}
