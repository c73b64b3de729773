import type { ContainerShape } from './docker-container.js';
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
  private readonly inFlight = new Map<string, number>();
  private readonly failedAt = new Map<string, number>();
  private readonly starts = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly start: (shape: ContainerShape) => Promise<StartedContainer>,
    private readonly discard: (c: StartedContainer) => Promise<void>,
  ) {}

  /** A warm container of this shape, if one is ready; the pool refills behind it. */
  take(shape: ContainerShape): StartedContainer | null {
    const c = this.idle.get(shapeKey(shape))?.shift() ?? null;
    this.fill(shape);
    return c;
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
      const [oldKey, oldList] = this.idle.entries().next().value as [string, StartedContainer[]];
      this.idle.delete(oldKey);
      for (const c of oldList) void this.discard(c);
    }
    for (let missing = this.size - list.length - (this.inFlight.get(key) ?? 0); missing > 0; missing--) {
      this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
      const p = this.start(shape)
        .then((c) => {
          const target = this.idle.get(key);
          if (this.closed || !target) return this.discard(c);
          target.push(c);
        })
        .catch(() => {
          this.failedAt.set(key, Date.now());
        })
        .finally(() => {
          this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
          this.starts.delete(p);
        });
      this.starts.add(p);
    }
  }

  /** Remove every warm container, including those still starting. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.all([...all.map((c) => this.discard(c)), ...this.starts]);
  }
}
