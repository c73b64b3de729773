import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { libc } from '../tiers/shared/libc.js';

/** Bytes a finished stream must have moved, or a finished command printed, for its end to be worth a collection. */
export const LARGE_STREAM_BYTES = 32 * 1024 * 1024;
/** How long output must have been quiet first (a burst of streams gets one collection, after it). */
const QUIET_MS = 2000;

type Collect = (options: { type: 'major'; execution: 'async' }) => void;

let collect: Collect | null | undefined;
let trim: ((pad: number) => number) | null | undefined;
let gcTimer: NodeJS.Timeout | null = null;
let trimTimer: NodeJS.Timeout | null = null;

/** V8's gc(), obtained once without --expose-gc on the command line; null if this runtime refuses. */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as Collect;
  } catch {
    collect = null;
  }
  return collect;
}

/** glibc's malloc_trim (through koffi, as the process hardening loads it); null elsewhere (musl, no koffi). */
function trimmer(): ((pad: number) => number) | null {
  if (trim !== undefined) return trim;
  try {
    trim = process.platform === 'linux' ? (libc().lib.func('int malloc_trim(size_t)') as (pad: number) => number) : null;
  } catch {
    trim = null;
  }
  return trim;
}

/**
 * A large stream or command has ended: collect garbage once output has been
 * quiet for a moment. The stream's buffers (pipe reads kept as they were, the blocks of
 * forgotten commands) live outside the JS heap; an idle V8 frees them only at
 * its next collection, which an idle daemon may not reach for a long time —
 * its RSS then stays tens of MB above idle. One major collection, run
 * concurrently (async), frees them; glibc then keeps much of that memory in
 * its arenas (the pipe reads come from several threads' arenas), still
 * counted in RSS: a malloc_trim once the collection has had time to finish
 * (and V8 to sweep the array buffers it freed) gives it back to the system.
 */
export function collectWhenQuiet(): void {
  if (trimTimer) clearTimeout(trimTimer);
  trimTimer = null;
  if (gcTimer) return void gcTimer.refresh();
  gcTimer = setTimeout(() => {
    gcTimer = null;
    collector()?.({ type: 'major', execution: 'async' });
    trimTimer = setTimeout(() => {
      trimTimer = null;
      trimmer()?.(0);
    }, QUIET_MS);
    trimTimer.unref();
  }, QUIET_MS);
  gcTimer.unref();
}
