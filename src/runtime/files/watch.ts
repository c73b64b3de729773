import type { ChangeKind } from '../../protocol/files.js';
import type { EngineState } from '../engine-state.js';
import { filesContext } from './files-context.js';

/** Where an fs.watch stream delivers (the server's pump). */
export interface WatchTarget {
  change(event: { kind: ChangeKind; path: string }): void;
  /** The watch is over (unwatched, its directory gone, the session ended); no more events. */
  ended(reason: string): void;
}

/** Live watches by stream id, per daemon (for fs.unwatch). */
const live = new WeakMap<EngineState, Map<string, (reason: string) => void>>();

function registry(st: EngineState): Map<string, (reason: string) => void> {
  let m = live.get(st);
  if (!m) live.set(st, (m = new Map<string, (reason: string) => void>()));
  return m;
}

/**
 * fs.watch: change events under a directory of the workspace, as the tier
 * sees them (its own watcher), until stop(), fs.unwatch, or the session's
 * end. Paths in events are absolute, as the client named the directory.
 */
export async function fsWatch(
  st: EngineState,
  p: { session_id: string; path?: string | undefined; recursive?: boolean | undefined },
  streamId: string,
  target: WatchTarget,
): Promise<{ path: string; stop(): void }> {
  const ctx = filesContext(st, p.session_id);
  const wp = ctx.path(p.path);
  let over = false;
  const reg = registry(st);
  const finish = (reason: string) => {
    if (over) return;
    over = true;
    reg.delete(streamId);
    target.ended(reason);
  };
  const watcher = await ctx.run('watch', wp, () =>
    ctx.files.watch(wp.rel, p.recursive ?? false, {
      change: (e) => {
        if (!over) target.change({ kind: e.kind, path: ctx.below(wp, e.rel) });
      },
      ended: finish,
    }),
  );
  const stop = (reason: string) => {
    watcher.close();
    finish(reason);
  };
  reg.set(streamId, stop);
  return { path: wp.display, stop: () => stop('stopped') };
}

/** fs.unwatch: end a watch stream (its last event says why); false when it had already ended. */
export function fsUnwatch(st: EngineState, streamId: string): boolean {
  const stop = registry(st).get(streamId);
  if (!stop) return false;
  stop('unwatched');
  return true;
}
