/** What a warm pool keeps, and how. */
export interface WarmPoolOptions<Shape, Item> {
  /** Items kept ready or starting per shape; 0: none. */
  size: number;
  /** Shapes whose items are interchangeable have the same key. */
  key(shape: Shape): string;
  start(shape: Shape): Promise<Item>;
  discard(item: Item): Promise<void>;
  /** Shapes kept warm at once; the least recently used goes first. */
  maxShapes: number;
  /** After a failed start, leave the shape cold this long instead of retrying in a loop. */
  failureBackoffMs: number;
  /**
   * Start refills on a later turn of the event loop (setImmediate), so that
   * whatever took an item (a response to write) goes first; otherwise at once.
   */
  deferRefill?: boolean;
}

interface Starting<Item> {
  claimed: boolean;
  item: Promise<Item | null>;
}

/**
 * Started items (containers, sandboxes) waiting for a session, kept per
 * shape and filled lazily: `fill` for a shape, then again behind every
 * `take`. A take that finds none ready gets one that is still starting (it is
 * ready sooner than a new one would be), so a burst of takes never starts
 * more than it needs. Whatever an item is checked against when handed out is
 * the caller's: the pool only matches keys.
 */
export class WarmPool<Shape, Item> {
  private readonly idle = new Map<string, Item[]>();
  /** Items being started per shape; a take that finds none idle claims one of these. */
  private readonly starting = new Map<string, Starting<Item>[]>();
  private readonly failedAt = new Map<string, number>();
  private readonly starts = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly o: WarmPoolOptions<Shape, Item>) {}

  /**
   * A warm item of this shape: one that is ready, else one that is being
   * started; null when there is none. The pool refills behind it.
   */
  async take(shape: Shape): Promise<Item | null> {
    const key = this.o.key(shape);
    const ready = this.idle.get(key)?.shift();
    const pending = ready ? undefined : this.starting.get(key)?.find((e) => !e.claimed);
    if (pending) pending.claimed = true;
    if (this.o.deferRefill) setImmediate(() => this.fill(shape));
    else this.fill(shape);
    if (ready) return ready;
    return pending ? pending.item : null;
  }

  /** Start items in the background until `size` of this shape are ready or starting. */
  fill(shape: Shape): void {
    if (this.closed || this.o.size <= 0) return;
    const key = this.o.key(shape);
    if (Date.now() - (this.failedAt.get(key) ?? 0) < this.o.failureBackoffMs) return;
    const list = this.idle.get(key) ?? [];
    // Re-insert to mark the shape most recently used, then evict the oldest beyond maxShapes.
    this.idle.delete(key);
    this.idle.set(key, list);
    while (this.idle.size > this.o.maxShapes) {
      const oldest = this.idle.entries().next().value;
      if (!oldest) break;
      const [oldKey, oldList] = oldest;
      this.idle.delete(oldKey);
      for (const c of oldList) void this.o.discard(c);
    }
    const starting = this.starting.get(key) ?? [];
    this.starting.set(key, starting);
    for (let missing = this.o.size - list.length - starting.filter((e) => !e.claimed).length; missing > 0; missing--) {
      const entry: Starting<Item> = { claimed: false, item: Promise.resolve(null) };
      const done = () => starting.splice(starting.indexOf(entry), 1);
      entry.item = this.o.start(shape).then(
        async (c) => {
          done();
          if (entry.claimed) return c;
          const target = this.idle.get(key);
          if (this.closed || !target) await this.o.discard(c);
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
      this.starts.add(entry.item);
      void entry.item.finally(() => this.starts.delete(entry.item));
    }
  }

  /** Remove every warm item, including those still starting (those a take claimed are its own). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.all([...all.map((c) => this.o.discard(c)), ...this.starts]);
  }
}
