import type { WalkQuery, WatchSink } from '../tier-files.js';
import { runWalk, type WalkSource } from '../shared/files/walk-engine.js';

/** How often the tree is looked at again. */
const POLL_MS = 1000;
/** Entries a docker watch follows at most (each look lists them all). */
export const MAX_POLLED_ENTRIES = 10_000;

/**
 * fs.watch for the docker tier: the container may be on an engine that
 * shares no filesystem (and no inotify) with the daemon, so the tree is
 * listed again every POLL_MS through the files helper and compared: new
 * paths are `create`, vanished ones `remove`, a changed size, type or mtime
 * `write` (a rename shows as a remove and a create). Resolves once the first
 * look is done (its failure rejects); returns the stop.
 */
export async function pollWatch(source: WalkSource, path: string[], recursive: boolean, sink: WatchSink): Promise<() => void> {
  const query: WalkQuery = {
    kind: 'list',
    start: path,
    recursive,
    maxDepth: null,
    glob: null,
    searchType: 'any',
    regex: null,
    noIgnore: false,
    offset: 0,
    limit: MAX_POLLED_ENTRIES,
    maxFileBytes: 0,
    maxEntries: MAX_POLLED_ENTRIES,
    timeMs: 10_000,
  };
  const look = async (): Promise<Map<string, string>> => {
    const r = await runWalk(query, source);
    if (r.total === null) throw new Error(`more than ${MAX_POLLED_ENTRIES} entries: watch a smaller tree, or without recursive`);
    return new Map(r.entries.map((e) => [e.rel, `${e.type}:${e.size}:${e.mtimeMs}`]));
  };
  let seen = await look();
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const stop = (reason?: string) => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    if (reason) sink.ended(reason);
  };
  const again = async () => {
    if (stopped) return;
    let now: Map<string, string>;
    try {
      now = await look();
    } catch (err) {
      return stop((err as Error).message.includes('entries') ? (err as Error).message : 'the watched directory is gone');
    }
    if (stopped) return;
    for (const [rel, sig] of now) {
      const before = seen.get(rel);
      if (before === undefined) sink.change({ kind: 'create', rel });
      else if (before !== sig) sink.change({ kind: 'write', rel });
    }
    for (const rel of seen.keys()) if (!now.has(rel)) sink.change({ kind: 'remove', rel });
    seen = now;
    timer = setTimeout(() => void again(), POLL_MS);
  };
  timer = setTimeout(() => void again(), POLL_MS);
  return () => stop();
}
