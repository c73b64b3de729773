import type { ContainerShape } from './container.js';
import type { StartedContainer } from './docker-session.js';

/** Shapes (image, network, workspace, user) kept warm at once; the least recently used goes first. */
const MAX_SHAPES = 4;
/** After a failed start, leave the shape cold this long instead of retrying in a loop. */
const FAILURE_BACKOFF_MS = 30_000;

function shapeKey(s: ContainerShape): string {
  return JSON.stringify([s.image, s.network, s.workspace, s.user]);
}

/**
 * Started containers waiting for a session, so `session.create` does not wait
 * for a container start (~0.2 s or more). Kept per shape, filled lazily: at
 * start-up for the default shape and after the first session of any other.
 * Warm containers carry the instance label like any other, so crash recovery
 * finds them; sessions with ulimits never take one (those are set at create).
 */
export class WarmPool {
  private readonly idle = new Map<string, StartedContainer[]>();
  /** Containers being started per shape; a session that finds none idle takes one of these (claimed). */
  private readonly starting = new Map<string, { claimed: boolean; container: Promise<StartedContainer | null> }[]>();
  private readonly failedAt = new Map<string, number>();
  private readonly starts = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly start: (shape: ContainerShape) => Promise<StartedContainer>,
    private readonly discard: (c: StartedContainer) => Promise<void>,
  ) {}

  /**
   * A warm container of this shape: one that is ready, else one that is
   * being started (it is ready sooner than a new one would be); null when
   * there is none. The pool refills behind it.
   */
  async take(shape: ContainerShape): Promise<StartedContainer | null> {
    const key = shapeKey(shape);
    const ready = this.idle.get(key)?.shift();
    const pending = ready ? undefined : this.starting.get(key)?.find((e) => !e.claimed);
    if (pending) pending.claimed = true;
    this.fill(shape);
    if (ready) return ready;
    return pending ? pending.container : null;
  }

  /** Start containers in the background until `size` of this shape are ready or starting. */
  fill(shape: ContainerShape): void {
    if (this.closed || this.size <= 0) return;
    const key = shapeKey(shape);
    if (Date.now() - (this.failedAt.get(key) ?? 0) < FAILURE_BACKOFF_MS) return;
    const list = this.idle.get(key) ?? [];
    // Re-insert to mark the shape most recently used, then evict the oldest beyond MAX_SHAPES.
    this.idle.delete(key);
    this.idle.set(key, list);
    while (this.idle.size > MAX_SHAPES) {
      const oldest = this.idle.entries().next().value;
      if (!oldest) break;
      const [oldKey, oldList] = oldest;
      this.idle.delete(oldKey);
      for (const c of oldList) void this.discard(c);
    }
    const starting = this.starting.get(key) ?? [];
    this.starting.set(key, starting);
    for (let missing = this.size - list.length - starting.filter((e) => !e.claimed).length; missing > 0; missing--) {
      const entry: { claimed: boolean; container: Promise<StartedContainer | null> } = { claimed: false, container: Promise.resolve(null) };
      const done = () => starting.splice(starting.indexOf(entry), 1);
      entry.container = this.start(shape).then(
        async (c) => {
          done();
          if (entry.claimed) return c;
          const target = this.idle.get(key);
          if (this.closed || !target) await this.discard(c);
          else target.push(c);
          return null;
        },
        () => {
          done();
          this.failedAt.set(key, Date.now());
          return null;
        },
      );
      starting.push(entry);
      this.starts.add(entry.container);
      void entry.container.finally(() => this.starts.delete(entry.container));
    }
  }

  /** Remove every warm container, including those still starting (those a session claimed are its own). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.all([...all.map((c) => this.discard(c)), ...this.starts]);
  }
}
