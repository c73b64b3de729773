import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, linkSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, renameSync, rmdirSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import type { FileStat, ReadRequest, ReadResult, WriteRequest, WriteResult } from '../../tier-files.js';
import { at, closeQuietly, entryType, isMountPoint, O_PATH, type Jail, type Resolved } from './fd-jail.js';
import { fail, fromErrno } from './file-op-error.js';

/** Open what an O_PATH descriptor refers to for reading: a FIFO does not block, a symlink is not followed. */
const READ = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;
const CHUNK = 1024 * 1024;

export function fileStat(st: Stats, target?: string): FileStat {
  return { type: entryType(st), size: st.size, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, ...(target !== undefined ? { target } : {}) };
}

/**
 * The primitive file operations of one workspace jail (fd-jail.ts), all
 * synchronous: the host tier runs the quick ones in the daemon, every
 * other caller in a helper process (helper-main.ts). Each works on the
 * descriptors its resolution checked, never on a path string again.
 */
export class JailOps {
  constructor(readonly jail: Jail) {}

  stat(path: string[], follow: boolean): FileStat {
    return this.with(path, { follow, missingOk: false }, (r) => {
      const st = r.st!;
      return fileStat(st, st.isSymbolicLink() && r.name !== null ? readlinkSync(at(r.parent, r.name)) : undefined);
    });
  }

  /** Open the regular file at `path` for reading (symlinks followed inside the workspace). */
  openRead(path: string[]): { fd: number; st: Stats } {
    return this.with(path, { follow: true, missingOk: false }, (r) => {
      requireFile(r);
      const fd = openSync(at(r.fd!), READ);
      const st = fstatSync(fd);
      if (st.ino !== r.st!.ino || st.dev !== r.st!.dev || !st.isFile()) {
        closeSync(fd);
        throw fail('NOT_A_FILE', r.rel, 'it changed while being opened');
      }
      return { fd, st };
    });
  }

  read(path: string[], req: ReadRequest): ReadResult {
    const { fd, st } = this.openRead(path);
    try {
      if (st.size <= req.wholeUpTo) {
        const data = readUpTo(fd, 0, req.wholeUpTo + 1, st.size);
        // Grown past the bound while being read: fall back to the range.
        if (data.length <= req.wholeUpTo) return { stat: fileStat(fstatSync(fd)), data, whole: true };
      }
      return { stat: fileStat(st), data: readUpTo(fd, req.offset, req.length, Math.max(0, st.size - req.offset)), whole: false };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Write a whole file: a new temporary file in the target's directory
   * (O_EXCL, never through a link), its content and mode, then a rename
   * over the target (overwrite), or a hard link that fails if the target
   * exists (no overwrite: nothing can appear in between and be replaced).
   */
  write(path: string[], content: Buffer, req: WriteRequest): WriteResult {
    const t = this.beginWrite(path, req);
    try {
      writeAll(t.fd, content);
      return this.commitWrite(t, req);
    } catch (err) {
      this.abortWrite(t);
      throw err;
    }
  }

  beginWrite(path: string[], req: WriteRequest): PendingWrite {
    const r = this.jail.resolve(path, { follow: true, missingOk: true, makeParents: req.makeParents ? 0o755 : null });
    try {
      if (r.name === null) throw fail('NOT_A_FILE', r.rel, 'the workspace itself is a directory');
      let mode = req.mode;
      if (r.st) {
        if (!r.st.isFile()) throw fail('NOT_A_FILE', r.rel, r.st.isDirectory() ? 'a directory' : 'not a regular file');
        if (!req.overwrite) throw fail('PATH_EXISTS', r.rel);
        refuseProtected(r);
        mode = r.st.mode & 0o777;
      }
      const temp = `.trl-write-${randomBytes(8).toString('hex')}`;
      let fd: number;
      try {
        fd = openSync(at(r.parent, temp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      } catch (err) {
        throw fromErrno(err, r.rel);
      }
      return { r, temp, fd, mode, existed: r.st !== null, size: 0 };
    } catch (err) {
      r.close();
      throw err;
    }
  }

  writeChunk(t: PendingWrite, chunk: Buffer): void {
    try {
      writeAll(t.fd, chunk);
    } catch (err) {
      throw fromErrno(err, t.r.rel);
    }
  }

  commitWrite(t: PendingWrite, req: WriteRequest): WriteResult {
    const { r } = t;
    const dir = r.parent;
    const name = r.name!;
    try {
      fchmodSync(t.fd, t.mode);
      t.size = fstatSync(t.fd).size;
      closeSync(t.fd);
      t.fd = -1;
      if (req.size !== undefined && t.size !== req.size) throw fail('INVALID_PARAMS', r.rel, `the content ended after ${t.size} of ${req.size} bytes; nothing was written`);
      if (req.expectSha256 !== undefined) this.expect(dir, name, r.rel, req.expectSha256);
      if (req.overwrite) {
        renameSync(at(dir, t.temp), at(dir, name));
      } else {
        renameNoReplace(dir, t.temp, name, r.rel);
      }
      return { created: !t.existed, size: t.size, mode: t.mode };
    } catch (err) {
      this.abortWrite(t);
      throw fromErrno(err, r.rel);
    } finally {
      r.close();
    }
  }

  abortWrite(t: PendingWrite): void {
    if (t.fd >= 0) closeQuietly(t.fd);
    t.fd = -1;
    try {
      unlinkSync(at(t.r.parent, t.temp));
    } catch {
      /* renamed already, or never made */
    }
    t.r.close();
  }

  /** FILE_CHANGED unless the file `name` in `dir` still has this content. */
  private expect(dir: number, name: string, rel: string[], sha256: string): void {
    let fd: number;
    try {
      fd = openSync(at(dir, name), READ | constants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw fail('FILE_CHANGED', rel, 'it was removed');
      throw fromErrno(err, rel);
    }
    try {
      const hash = createHash('sha256');
      let pos = 0;
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK, pos);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
        pos += n;
      }
      if (hash.digest('hex') !== sha256) throw fail('FILE_CHANGED', rel, 'its content is not what expect_hash says');
    } finally {
      closeSync(fd);
    }
  }

  mkdir(path: string[], parents: boolean, mode: number): { created: boolean } {
    return this.with(path, { follow: true, missingOk: true, makeParents: parents ? 0o755 : null }, (r) => {
      if (r.st) {
        if (r.st.isDirectory() && parents) return { created: false };
        throw fail('PATH_EXISTS', r.rel, r.st.isDirectory() ? 'a directory (pass parents: true to accept it)' : 'not a directory');
      }
      try {
        mkdirSync(at(r.parent, r.name!), mode);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && parents) return { created: false };
        throw fromErrno(err, r.rel);
      }
      return { created: true };
    });
  }

  remove(path: string[], recursive: boolean): { removed: number } {
    return this.with(path, { follow: false, missingOk: false }, (r) => {
      if (r.name === null) throw fail('INVALID_PARAMS', r.rel, 'the workspace itself cannot be removed');
      refuseProtected(r);
      if (!r.st!.isDirectory()) {
        unlinkSync(at(r.parent, r.name));
        return { removed: 1 };
      }
      let removed = 0;
      if (recursive) removed = removeContents(r.fd!, r.rel);
      try {
        rmdirSync(at(r.parent, r.name));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') throw fail('INVALID_PARAMS', r.rel, 'a directory that is not empty: pass recursive: true');
        throw err;
      }
      return { removed: removed + 1 };
    });
  }

  move(from: string[], to: string[], overwrite: boolean, makeParents: boolean): void {
    this.with(from, { follow: false, missingOk: false }, (src) => {
      if (src.name === null) throw fail('INVALID_PARAMS', src.rel, 'the workspace itself cannot be moved');
      refuseProtected(src);
      this.with(to, { follow: false, missingOk: true, makeParents: makeParents ? 0o755 : null }, (dst) => {
        if (dst.name === null) throw fail('PATH_EXISTS', dst.rel, 'the workspace itself');
        if (dst.st && !overwrite) throw fail('PATH_EXISTS', dst.rel);
        if (dst.st) refuseProtected(dst);
        const a = at(src.parent, src.name!);
        const b = at(dst.parent, dst.name);
        try {
          if (overwrite || src.st!.isDirectory()) {
            renameSync(a, b);
          } else {
            // A link fails if `to` appeared meanwhile, where a rename would replace it.
            renameNoReplace(src.parent, src.name!, dst.name, dst.rel, dst.parent);
          }
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EINVAL') throw fail('INVALID_PARAMS', dst.rel, 'a directory cannot move into itself');
          throw fromErrno(err, dst.rel);
        }
      });
    });
  }

  /** Resolve, run `fn` on the checked entry, release its descriptors. */
  with<T>(path: string[], opts: { follow: boolean; missingOk: boolean; makeParents?: number | null }, fn: (r: Resolved) => T): T {
    const r = this.jail.resolve(path, opts);
    try {
      return fn(r);
    } catch (err) {
      throw fromErrno(err, r.rel);
    } finally {
      r.close();
    }
  }
}

export interface PendingWrite {
  r: Resolved;
  temp: string;
  /** The temporary file, open for writing (-1 once closed). */
  fd: number;
  mode: number;
  existed: boolean;
  size: number;
  /** A chunk could not be written: the write fails at its end. */
  error?: Record<string, unknown>;
}

/** PERMISSION_DENIED for an entry the tier mounted over the workspace (fd-jail.ts isMountPoint). */
function refuseProtected(r: Resolved): void {
  if (r.fd !== null && r.name !== null && isMountPoint(r.fd, r.parent)) throw fail('PERMISSION_DENIED', r.rel, 'a path the tier protects (mounted read-only, or not to be created)');
}

function requireFile(r: Resolved): void {
  const st = r.st!;
  if (st.isFile()) return;
  throw fail('NOT_A_FILE', r.rel, st.isDirectory() ? 'a directory: list it with fs.list' : 'not a regular file (a device, FIFO or socket)');
}

/**
 * Give `dir/existing` the new name `toDir/name`, failing with PATH_EXISTS if
 * that exists: a hard link (EEXIST if anything is there, nothing replaced),
 * then the old name removed. On a filesystem without hard links: a rename
 * after a check.
 */
function renameNoReplace(dir: number, existing: string, name: string, rel: string[], toDir = dir): void {
  try {
    linkSync(at(dir, existing), at(toDir, name));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw fail('PATH_EXISTS', rel);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') throw err;
    let exists = true;
    try {
      closeSync(openSync(at(toDir, name), O_PATH | constants.O_NOFOLLOW));
    } catch {
      exists = false;
    }
    if (exists) throw fail('PATH_EXISTS', rel);
    renameSync(at(dir, existing), at(toDir, name));
    return;
  }
  unlinkSync(at(dir, existing));
}

/**
 * Remove everything below a directory descriptor, never following a link
 * and never a protected mount point (which then keeps its directory: the
 * removal fails there); returns how many entries went.
 */
function removeContents(dirFd: number, rel: string[]): number {
  let removed = 0;
  for (const name of readdirSync(at(dirFd))) {
    let child: number;
    try {
      child = openSync(at(dirFd, name), O_PATH | constants.O_NOFOLLOW);
    } catch {
      continue; // gone since the listing
    }
    try {
      if (isMountPoint(child, dirFd)) throw fail('PERMISSION_DENIED', [...rel, name], 'a path the tier protects (mounted read-only, or not to be created)');
      // Swapped for a link since the listing: the link is removed, nothing below it.
      if (fstatSync(child).isDirectory()) {
        removed += removeContents(child, [...rel, name]);
        rmdirSync(at(dirFd, name));
      } else unlinkSync(at(dirFd, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw fromErrno(err, [...rel, name]);
    } finally {
      closeQuietly(child);
    }
    removed++;
  }
  return removed;
}

/** The most one read returns, whatever `length` asks. */
const READ_CAP = 64 * 1024 * 1024;
/** The first buffer of a read without a size hint. */
const FIRST_READ = 64 * 1024;

/**
 * Up to `length` bytes from `position`. The buffer starts at what the file
 * is expected to hold from there (`expected`, for instance its fstat size;
 * one byte more, so that growth shows) and doubles only if the file has
 * more: a walk over ten thousand small files must not allocate the read
 * bound for each.
 */
export function readUpTo(fd: number, position: number, length: number, expected = FIRST_READ): Buffer {
  const cap = Math.min(length, READ_CAP);
  let buf = Buffer.allocUnsafe(Math.min(cap, Math.max(expected + 1, 1)));
  let got = 0;
  for (;;) {
    if (got === buf.length) {
      if (buf.length >= cap) break;
      const bigger = Buffer.allocUnsafe(Math.min(cap, buf.length * 2));
      buf.copy(bigger, 0, 0, got);
      buf = bigger;
    }
    const n = readSync(fd, buf, got, Math.min(CHUNK, buf.length - got), position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

export function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, Math.min(CHUNK, data.length - off));
}
