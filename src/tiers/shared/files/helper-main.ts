/**
 * A files helper process: the jail of one session (fd-jail.ts) run outside
 * the daemon's event loop, as the session's user. The daemon starts it with
 * the workspace's O_PATH descriptor as fd 3 — for the sandbox tier one
 * opened through the sandbox's own mount namespace, so its read-only guards
 * hold — and `--uid/--gid` when it must stop being root: it switches before
 * it reads any request. Requests and answers are frames
 * (helper-protocol.ts) on stdin and stdout, handled one after another; its
 * first frame, `{ id: 0, ready: true }`, says it is reading them (the
 * daemon's time bounds start there). It exits when its stdin closes.
 *
 *   node helper-main.js WORKSPACE_PATHS_JSON [--uid N --gid N]
 */
import { once } from 'node:events';
import { closeSync, createWriteStream, writeSync } from 'node:fs';
import type { WalkQuery, WriteRequest } from '../../tier-files.js';
import { Jail } from './fd-jail.js';
import { FileOpError } from './file-op-error.js';
import { encodeFrame, FrameReader, type Frame } from './helper-protocol.js';
import { JailOps, readUpTo, type PendingWrite } from './jail-ops.js';
import { JailWalkSource } from './jail-walk-source.js';
import { runWalk } from './walk-engine.js';
import { startWatch } from './watch-tree.js';

const ROOT_FD = 3;
const STREAM_CHUNK = 256 * 1024;

function dropPrivileges(argv: string[]): void {
  const uid = argv.indexOf('--uid');
  const gid = argv.indexOf('--gid');
  if (gid !== -1) {
    process.setgroups?.([]);
    process.setgid?.(Number(argv[gid + 1]));
  }
  if (uid !== -1) process.setuid?.(Number(argv[uid + 1]));
  process.umask(0o022);
}

const out = createWriteStream('', { fd: 1 });
async function send(header: Record<string, unknown>, body?: Buffer): Promise<void> {
  if (!out.write(encodeFrame(header, body))) await once(out, 'drain');
}

function failureOf(err: unknown): Record<string, unknown> {
  if (err instanceof FileOpError) return err.failure as unknown as Record<string, unknown>;
  return { code: 'IO_ERROR', rel: '', why: (err as Error)?.message?.slice(0, 300) ?? String(err) };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const paths = JSON.parse(argv[0] ?? '[]') as string[];
  dropPrivileges(argv);
  const jail = new Jail(ROOT_FD, paths);
  const ops = new JailOps(jail);
  const writes = new Map<unknown, PendingWrite>();
  const watches = new Map<unknown, () => void>();

  const handle = async (f: Frame): Promise<void> => {
    const h = f.header;
    const id = h.id;
    const a = (h.args ?? {}) as Record<string, unknown>;
    const path = (a.path ?? []) as string[];
    try {
      switch (h.op) {
        case 'stat':
          return await send({ id, ok: true, data: ops.stat(path, a.follow as boolean) });
        case 'read': {
          const r = ops.read(path, a.req as never);
          return await send({ id, ok: true, data: { stat: r.stat, whole: r.whole } }, r.data);
        }
        case 'write':
          return await send({ id, ok: true, data: ops.write(path, f.body, a.req as WriteRequest) });
        case 'write-begin':
          writes.set(id, ops.beginWrite(path, a.req as WriteRequest));
          return await send({ id, ok: true, data: null });
        case 'write-chunk': {
          const t = writes.get(id);
          if (t) writeChunk(t, f.body);
          return;
        }
        case 'write-end': {
          const t = writes.get(id);
          writes.delete(id);
          if (!t) throw new Error('no write in progress');
          if (t.error) {
            ops.abortWrite(t);
            return await send({ id, ok: false, failure: t.error });
          }
          return await send({ id, ok: true, data: ops.commitWrite(t, a.req as WriteRequest) });
        }
        case 'write-abort': {
          const t = writes.get(id);
          writes.delete(id);
          if (t) ops.abortWrite(t);
          return;
        }
        case 'read-stream':
          return await readStream(ops, id, path, a.offset as number, a.length as number | null);
        case 'mkdir':
          return await send({ id, ok: true, data: ops.mkdir(path, a.parents as boolean, a.mode as number) });
        case 'remove':
          return await send({ id, ok: true, data: ops.remove(path, a.recursive as boolean) });
        case 'move':
          ops.move(path, a.to as string[], a.overwrite as boolean, a.makeParents as boolean);
          return await send({ id, ok: true, data: null });
        case 'walk': {
          const source = new JailWalkSource(jail);
          try {
            return await send({ id, ok: true, data: await runWalk(a.query as WalkQuery, source) });
          } finally {
            source.close();
          }
        }
        case 'watch': {
          const stop = startWatch(jail, path, a.recursive as boolean, {
            change: (event) => void send({ id, event }),
            ended: (reason) => {
              watches.delete(id);
              void send({ id, ended: reason });
            },
          });
          watches.set(id, stop);
          return await send({ id, ok: true, data: null });
        }
        case 'unwatch':
          watches.get(id)?.();
          watches.delete(id);
          return;
        default:
          throw new Error(`unknown files helper operation ${String(h.op)}`);
      }
    } catch (err) {
      if (h.op === 'write-chunk') {
        // Answered at write-end: the failure is kept with the write.
        const t = writes.get(id);
        if (t) t.error = failureOf(err);
        return;
      }
      await send({ id, ok: false, failure: failureOf(err) });
    }
  };

  const reader = new FrameReader();
  let chain = Promise.resolve();
  process.stdin.on('data', (chunk: Buffer) => {
    for (const f of reader.push(chunk)) chain = chain.then(() => handle(f));
  });
  process.stdin.on('end', () => {
    for (const t of writes.values()) ops.abortWrite(t);
    for (const stop of watches.values()) stop();
    void chain.then(() => process.exit(0));
  });
  await send({ id: 0, ready: true });
}

function writeChunk(t: PendingWrite, body: Buffer): void {
  if (t.error) return;
  let off = 0;
  while (off < body.length) off += writeSync(t.fd, body, off, body.length - off);
}

async function readStream(ops: JailOps, id: unknown, path: string[], offset: number, length: number | null): Promise<void> {
  const { fd, st } = ops.openRead(path);
  try {
    const end = length === null ? st.size : Math.min(st.size, offset + length);
    await send({ id, ok: true, data: { stat: { type: 'file', size: st.size, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs }, length: Math.max(0, end - offset) } });
    let pos = offset;
    try {
      while (pos < end) {
        const want = Math.min(STREAM_CHUNK, end - pos);
        const chunk = readUpTo(fd, pos, want, want);
        if (chunk.length === 0) break;
        pos += chunk.length;
        await send({ id, chunk: true }, chunk);
      }
    } catch (err) {
      return await send({ id, end: true, failure: failureOf(err) });
    }
    await send({ id, end: true });
  } finally {
    closeSync(fd);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`trl files helper: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
