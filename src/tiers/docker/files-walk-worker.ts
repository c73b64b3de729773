/**
 * A walk of the docker tier run in a worker thread (files-walk.ts): the
 * walk engine, .gitignore and glob matching, and fs.grep's regular
 * expression never run on the daemon's event loop. What it reads comes
 * from the daemon's side (the files helper in the container), one message
 * per directory or file.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WalkQuery } from '../tier-files.js';
import { FileOpError } from '../shared/files/file-op-error.js';
import { runWalk, type SourceEntry, type WalkSource } from '../shared/files/walk-engine.js';

const port = parentPort!;
const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let next = 1;

function ask<T>(op: string, args: Record<string, unknown>): Promise<T> {
  const id = next++;
  return new Promise<T>((resolve, reject) => {
    waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
    port.postMessage({ t: 'ask', id, op, args });
  });
}

port.on('message', (m: { t: string; id: number; ok: boolean; data?: unknown; failure?: never }) => {
  if (m.t !== 'reply') return;
  const w = waiting.get(m.id);
  waiting.delete(m.id);
  if (!w) return;
  if (m.ok) w.resolve(m.data);
  else w.reject(new FileOpError(m.failure!));
});

const source: WalkSource = {
  start: (path) => ask<{ rel: string[] } & SourceEntry>('start', { path }),
  list: (dir) => ask<SourceEntry[] | null>('list', { dir }),
  read: async (file, max) => {
    const data = await ask<Uint8Array | 'large' | null>('read', { file, max });
    return data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : data;
  },
  prefetch: (files, max) => ask<void>('prefetch', { files, max }),
};

runWalk((workerData as { query: WalkQuery }).query, source).then(
  (result) => port.postMessage({ t: 'done', result }),
  (err: unknown) => port.postMessage({ t: 'fail', failure: err instanceof FileOpError ? err.failure : { code: 'IO_ERROR', rel: '', why: (err as Error)?.message ?? String(err) } }),
);
