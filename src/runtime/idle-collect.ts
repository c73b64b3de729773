import { createRequire } from 'node:module';
import { libc } from '../tiers/shared/libc.js';

/** node:v8 and node:vm, loaded at the first collection rather than with the daemon (about 1.5 MB of idle RSS). */
const builtin = createRequire(import.meta.url);

/** Bytes a finished stream must have moved, or a finished command printed, for its end to be worth a collection. */
export const LARGE_STREAM_BYTES = 32 * 1024 * 1024;
/** How long output must have been quiet first (a burst of streams gets one collection, after it). */
const QUIET_MS = 2000;
/**
 * How long after start-up the daemon gives its allocator's free memory back:
 * after V8's memory reducer has collected what loading the code left behind
 * (its first idle collection comes about 8 s after the last allocation).
 */
const AFTER_START_MS = 10_000;

type Collect = (options: { type: 'major'; execution: 'async' }) => void;

let collect: Collect | null | undefined;
let trim: ((pad: number) => number) | null | undefined;
let gcTimer: NodeJS.Timeout | null = null;
let trimTimer: NodeJS.Timeout | null = null;

/** V8's gc(), obtained once without --expose-gc on the command line; null if this runtime refuses. */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    (builtin('node:v8') as typeof import('node:v8')).setFlagsFromString('--expose-gc');
    collect = (builtin('node:vm') as typeof import('node:vm')).runInNewContext('gc') as Collect;
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

/**
 * The daemon has started: loading its code and checking its tiers freed a few
 * MB that glibc keeps in its arenas, counted in the RSS of a daemon that may
 * then stay idle for hours. Once V8 has collected that start-up garbage, give
 * the free pages back (about 2.4 MB here); no collection is forced.
 */
export function trimAfterStart(): void {
  const timer = setTimeout(() => {
    if (!gcTimer && !trimTimer) trimmer()?.(0);
  }, AFTER_START_MS);
  timer.unref();
}
