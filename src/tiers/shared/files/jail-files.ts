import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { FileStat, ReadRequest, ReadResult, TierFiles, WalkQuery, WalkResult, WatchSink, Watcher, WriteRequest, WriteResult } from '../../tier-files.js';
import type { RunAs } from '../run-as.js';
import { closeQuietly, Jail } from './fd-jail.js';
import { fail, FileOpError, type FileOpFailure } from './file-op-error.js';
import { FilesHelper, HelperTimeout, type HelperChannel } from './helper-client.js';
import { JailOps } from './jail-ops.js';

/** Past a walk's own time bound, how long its helper may still take to answer before it is killed. */
const WALK_GRACE_MS = 2000;

export interface JailFilesOptions {
  /** O_PATH descriptor of the workspace, pinned when the session started; closed by close(). */
  rootFd: number;
  workspacePaths: string[];
  /** The session's user, when the daemon is root and its commands are not. */
  runAs: RunAs | null;
  /**
   * The daemon itself is the session's user (the host tier): the quick
   * operations run here, synchronously; the rest (walks, recursive removal,
   * watches) always in a helper process, off the event loop.
   */
  inProcess: boolean;
  /** Time bound of one operation that is not a walk, in ms. */
  opTimeoutMs: number;
}

/** The files of a host or sandbox session: the descriptor jail (fd-jail.ts), here or in helper processes. */
export class JailFiles implements TierFiles {
  private readonly ops: JailOps | null;
  private readonly quick: FilesHelper;
  private readonly walker: FilesHelper;
  /** Helpers of one stream or watch each. */
  private readonly dedicated = new Set<FilesHelper>();
  private closed = false;

  constructor(private readonly o: JailFilesOptions) {
    const spec = { rootFd: o.rootFd, workspacePaths: o.workspacePaths, runAs: o.runAs };
    this.ops = o.inProcess ? new JailOps(new Jail(o.rootFd, o.workspacePaths)) : null;
    this.quick = new FilesHelper(spec);
    this.walker = new FilesHelper(spec);
  }

  async stat(path: string[], follow: boolean): Promise<FileStat> {
    if (this.ops) return this.ops.stat(path, follow);
    return (await this.ask('stat', { path, follow })).header.data as FileStat;
  }

  async read(path: string[], req: ReadRequest): Promise<ReadResult> {
    if (this.ops) return this.ops.read(path, req);
    const f = await this.ask('read', { path, req });
    const d = f.header.data as { stat: FileStat; whole: boolean };
    return { stat: d.stat, whole: d.whole, data: f.body };
  }

  async readStream(path: string[], offset: number, length: number | null): Promise<{ stat: FileStat; stream: Readable }> {
    if (this.ops) {
      const { fd, st } = this.ops.openRead(path);
      const end = length === null ? Infinity : offset + length - 1;
      const stat: FileStat = { type: 'file', size: st.size, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
      if (length === 0 || offset >= st.size) {
        closeQuietly(fd);
        return { stat, stream: Readable.from([]) };
      }
      return { stat, stream: createReadStream('', { fd, start: offset, end, autoClose: true }) };
    }
    return this.helperReadStream(path, offset, length);
  }

  async write(path: string[], content: Buffer | Readable, req: WriteRequest): Promise<WriteResult> {
    if (Buffer.isBuffer(content)) {
      if (this.ops) return this.ops.write(path, content, req);
      return (await this.ask('write', { path, req }, content)).header.data as WriteResult;
    }
    if (this.ops) {
      const t = this.ops.beginWrite(path, req);
      try {
        for await (const chunk of content) this.ops.writeChunk(t, chunk as Buffer);
      } catch (err) {
        this.ops.abortWrite(t);
        throw err;
      }
      return this.ops.commitWrite(t, req);
    }
    return this.helperWriteStream(path, content, req);
  }

  async mkdir(path: string[], parents: boolean, mode: number): Promise<{ created: boolean }> {
    if (this.ops) return this.ops.mkdir(path, parents, mode);
    return (await this.ask('mkdir', { path, parents, mode })).header.data as { created: boolean };
  }

  async remove(path: string[], recursive: boolean): Promise<{ removed: number }> {
    if (this.ops && !recursive) return this.ops.remove(path, false);
    // A whole tree may take long: never on the event loop, and not bound by the quick operations' time.
    const helper = recursive ? this.walker : this.quick;
    return (await this.through(helper, 'remove', { path, recursive })).header.data as { removed: number };
  }

  async move(from: string[], to: string[], overwrite: boolean, makeParents: boolean): Promise<void> {
    if (this.ops) return this.ops.move(from, to, overwrite, makeParents);
    await this.ask('move', { path: from, to, overwrite, makeParents });
  }

  async walk(query: WalkQuery): Promise<WalkResult> {
    try {
      return (await this.through(this.walker, 'walk', { query }, undefined, query.timeMs + WALK_GRACE_MS)).header.data as WalkResult;
    } catch (err) {
      if (err instanceof HelperTimeout) {
        throw fail(
          'INVALID_PARAMS',
          query.start,
          query.regex
            ? 'the regular expression ran past the time bound on a single line (catastrophic backtracking?): simplify it, or pass literal: true'
            : 'the pattern ran past the time bound: simplify it',
        );
      }
      throw err;
    }
  }

  async watch(path: string[], recursive: boolean, sink: WatchSink): Promise<Watcher> {
    const helper = this.dedicatedHelper();
    let ch: HelperChannel | null = null;
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      ch?.done();
      this.release(helper);
      sink.ended(reason);
    };
    await new Promise<void>((resolve, reject) => {
      let answered = false;
      ch = helper.open(
        'watch',
        { path, recursive },
        undefined,
        (f) => {
          const h = f.header;
          if (!answered && h.ok !== undefined) {
            answered = true;
            if (h.ok === true) return resolve();
            this.release(helper);
            return reject(new FileOpError(h.failure as FileOpFailure));
          }
          if (h.event) sink.change(h.event as never);
          else if (h.ended) end(typeof h.ended === 'string' ? h.ended : JSON.stringify(h.ended));
        },
        (err) => {
          if (!answered) {
            answered = true;
            this.release(helper);
            reject(err);
          } else end(err.message);
        },
      );
    });
    return {
      close: () => {
        if (ended) return;
        ended = true;
        ch?.send({ op: 'unwatch' });
        ch?.done();
        this.release(helper);
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.quick.close();
    this.walker.close();
    for (const h of this.dedicated) h.close();
    this.dedicated.clear();
    closeQuietly(this.o.rootFd);
  }

  private ask(op: string, args: Record<string, unknown>, body?: Buffer) {
    return this.through(this.quick, op, args, body, this.o.opTimeoutMs);
  }

  private async through(helper: FilesHelper, op: string, args: Record<string, unknown>, body?: Buffer, timeoutMs?: number) {
    try {
      return await helper.request(op, args, body, timeoutMs);
    } catch (err) {
      if (err instanceof FileOpError || err instanceof HelperTimeout) throw err;
      throw fail('IO_ERROR', (args.path as string[] | undefined) ?? [], (err as Error).message);
    }
  }

  private dedicatedHelper(): FilesHelper {
    if (this.closed) throw fail('IO_ERROR', [], 'the session is ending');
    const h = new FilesHelper({ rootFd: this.o.rootFd, workspacePaths: this.o.workspacePaths, runAs: this.o.runAs });
    this.dedicated.add(h);
    return h;
  }

  private release(h: FilesHelper): void {
    h.close();
    this.dedicated.delete(h);
  }

  /** A file's bytes from a helper of its own, paced by the consumer (the helper blocks on its pipe). */
  private helperReadStream(path: string[], offset: number, length: number | null): Promise<{ stat: FileStat; stream: Readable }> {
    const helper = this.dedicatedHelper();
    return new Promise((resolve, reject) => {
      let stream: Readable | null = null;
      const ch = helper.open(
        'read-stream',
        { path, offset, length },
        undefined,
        (f) => {
          const h = f.header;
          if (h.ok === false) {
            this.release(helper);
            return reject(new FileOpError(h.failure as FileOpFailure));
          }
          if (h.ok === true) {
            stream = new Readable({ read: () => ch.resume(), destroy: (err, cb) => (this.release(helper), cb(err)) });
            return resolve({ stat: (h.data as { stat: FileStat }).stat, stream });
          }
          if (h.chunk && stream && !stream.push(f.body)) ch.pause();
          if (h.end) {
            ch.done();
            if (h.failure) stream?.destroy(new FileOpError(h.failure as FileOpFailure));
            else stream?.push(null);
            this.release(helper);
          }
        },
        (err) => {
          if (stream) stream.destroy(err);
          else reject(err);
          this.release(helper);
        },
      );
    });
  }

  /** A whole file from a stream, through a helper of its own: begin, chunks (paced by the pipe), end. */
  private async helperWriteStream(path: string[], content: Readable, req: WriteRequest): Promise<WriteResult> {
    const helper = this.dedicatedHelper();
    try {
      let answer: (f: { ok: boolean; data?: unknown; failure?: FileOpFailure }) => void = () => undefined;
      let broken: (err: Error) => void = () => undefined;
      const next = () =>
        new Promise<unknown>((resolve, reject) => {
          answer = (h) => (h.ok ? resolve(h.data) : reject(new FileOpError(h.failure!)));
          broken = reject;
        });
      let pending = next();
      const ch = helper.open(
        'write-begin',
        { path, req },
        undefined,
        (f) => answer(f.header as never),
        (err) => broken(err),
      );
      await pending;
      try {
        for await (const chunk of content) {
          if (!ch.send({ op: 'write-chunk' }, chunk as Buffer)) await ch.drained();
        }
      } catch (err) {
        ch.send({ op: 'write-abort' });
        throw err;
      }
      pending = next();
      ch.send({ op: 'write-end', args: { req } });
      const data = await pending;
      ch.done();
      return data as WriteResult;
    } finally {
      this.release(helper);
    }
  }
}
