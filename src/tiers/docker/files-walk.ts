import { compiledPath } from '../../install-dir.js';
import type { WalkQuery, WalkResult } from '../tier-files.js';
import { fail, FileOpError, type FileOpFailure } from '../shared/files/file-op-error.js';
import type { WalkSource } from '../shared/files/walk-engine.js';
import { notStartedMessage, START_DEADLINE_MS } from '../shared/timers.js';

const WORKER = compiledPath('tiers/docker/files-walk-worker.js');
/** Past a walk's own time bound, how long its worker may still take before it is stopped. */
const GRACE_MS = 2000;

/**
 * Run one walk in a worker thread (files-walk-worker.ts), serving its reads
 * from `source` here. Past its time bound and a grace the worker is
 * terminated — a regular expression stuck on one line included — and the
 * walk fails; `onStuck` lets the caller drop the helper it was reading from.
 * node:worker_threads loads with the first walk, not with the daemon (about 1.6 MB of idle RSS).
 * The bound counts from the worker's first message: a thread's start (its
 * modules loaded on a starved machine) must not pass for a stuck pattern.
 */
export async function walkInWorker(query: WalkQuery, source: WalkSource, onStuck: () => void): Promise<WalkResult> {
  const { Worker } = await import('node:worker_threads');
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: { query }, resourceLimits: { maxOldGenerationSizeMb: 256 } });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      fn();
    };
    let timer = setTimeout(() => settle(() => reject(fail('IO_ERROR', query.start, notStartedMessage("the walk's worker", START_DEADLINE_MS)))), START_DEADLINE_MS);
    let started = false;
    const bound = () => {
      onStuck();
      settle(() =>
        reject(
          fail(
            'INVALID_PARAMS',
            query.start,
            query.regex ? 'the regular expression ran past the time bound on a single line (catastrophic backtracking?): simplify it, or pass literal: true' : 'the walk ran past its time bound',
          ),
        ),
      );
    };
    worker.on('message', (m: { t: string; id: number; op: string; args: Record<string, unknown>; result?: WalkResult; failure?: FileOpFailure }) => {
      if (!started && !settled) {
        started = true;
        clearTimeout(timer);
        timer = setTimeout(bound, query.timeMs + GRACE_MS);
      }
      if (m.t === 'done') return settle(() => resolve(m.result!));
      if (m.t === 'fail') return settle(() => reject(new FileOpError(m.failure!)));
      if (m.t !== 'ask') return;
      const a = m.args;
      const answer: Promise<unknown> =
        m.op === 'start'
          ? source.start(a.path as string[])
          : m.op === 'list'
            ? source.list(a.dir as string[])
            : m.op === 'prefetch'
              ? (source.prefetch?.(a.files as string[][], a.max as number) ?? Promise.resolve())
              : source.read(a.file as string[], a.max as number);
      answer.then(
        (data) => {
          if (!settled) worker.postMessage({ t: 'reply', id: m.id, ok: true, data });
        },
        (err: unknown) => {
          if (settled) return;
          const failure = err instanceof FileOpError ? err.failure : { code: 'IO_ERROR', rel: '', why: (err as Error)?.message };
          worker.postMessage({ t: 'reply', id: m.id, ok: false, failure });
        },
      );
    });
    worker.on('error', (err) => settle(() => reject(fail('IO_ERROR', query.start, `the walk failed: ${err.message}`))));
    worker.on('exit', () => settle(() => reject(fail('IO_ERROR', query.start, 'the walk stopped'))));
  });
}
