import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes a finished stream must have moved for its end to be worth a collection. */
export const LARGE_STREAM_BYTES = 32 * 1024 * 1024;
/** How long output must have been quiet first (a burst of streams gets one collection, after it). */
const QUIET_MS = 2000;

type Collect = (options: { type: 'major'; execution: 'async' }) => void;

let collect: Collect | null | undefined;
let timer: NodeJS.Timeout | null = null;

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

/**
 * A large stream has ended: collect garbage once output has been quiet for a
 * moment. The stream's buffers (pipe reads kept as they were, the blocks of
 * forgotten commands) live outside the JS heap; an idle V8 frees them only at
 * its next collection, which an idle daemon may not reach for a long time —
 * its RSS then stays tens of MB above idle. One major collection, run
 * concurrently (async), gives them back.
 */
export function collectWhenQuiet(): void {
  if (timer) return void timer.refresh();
  timer = setTimeout(() => {
    timer = null;
    collector()?.({ type: 'major', execution: 'async' });
  }, QUIET_MS);
  timer.unref();
}
