import { ByteQueue } from './byte-queue.js';

/**
 * A bounded per-stream output buffer that keeps the head and the tail of the
 * stream with absolute byte offsets. Once more than `cap` bytes have been
 * written, the middle is dropped: the first `cap/2` bytes and the last
 * `cap - cap/2` bytes stay readable, and `dropped` counts the rest exactly.
 */
export class OutputBuffer {
  readonly headCap: number;
  readonly tailCap: number;
  private readonly headQ = new ByteQueue();
  private readonly tailQ = new ByteQueue();
  /** Total bytes ever appended: the offset the next byte will have. */
  total = 0;

  constructor(cap: number) {
    this.headCap = Math.floor(cap / 2);
    this.tailCap = cap - this.headCap;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.total += chunk.length;
    let rest = chunk;
    const room = this.headCap - this.headQ.length;
    if (room > 0) {
      const take = Math.min(room, rest.length);
      this.headQ.append(take === rest.length ? rest : rest.subarray(0, take));
      if (take === rest.length) return;
      rest = rest.subarray(take);
    }
    if (rest.length > this.tailCap) rest = rest.subarray(rest.length - this.tailCap);
    const overflow = this.tailQ.length + rest.length - this.tailCap;
    if (overflow > 0) this.tailQ.dropFront(overflow);
    this.tailQ.append(rest);
  }

  /** Bytes dropped from the middle so far. */
  get dropped(): number {
    return this.total - this.headQ.length - this.tailQ.length;
  }

  /** Offset of the first retained tail byte. */
  get tailStart(): number {
    return this.total - this.tailQ.length;
  }

  /**
   * Up to `max` bytes from absolute `offset` without copying: the bytes up to
   * the end of the block that holds `offset` (a raw reader writes them as they
   * are). Like read(), an offset inside the dropped middle moves to the tail.
   */
  peek(offset: number, max: number): { data: Buffer; offset: number; skipped: number } {
    const headLen = this.headQ.length;
    if (offset < headLen) return { data: this.headQ.peek(offset, Math.min(headLen, offset + max)), offset, skipped: 0 };
    const tailStart = this.tailStart;
    const from = Math.max(offset, tailStart);
    const rel = from - tailStart;
    return { data: this.tailQ.peek(rel, rel + max), offset: from, skipped: from - offset };
  }

  /** The retained head as views of the blocks that hold it (no copy). */
  headViews(): Generator<Buffer> {
    return this.headQ.views(0, this.headQ.length);
  }

  /** The retained tail likewise. */
  tailViews(): Generator<Buffer> {
    return this.tailQ.views(0, this.tailQ.length);
  }

  head(): Buffer {
    return this.headQ.toBuffer();
  }

  tail(): Buffer {
    return this.tailQ.toBuffer();
  }

  /**
   * Up to `max` bytes from absolute `offset`. An offset inside the dropped
   * middle moves to the first retained tail byte and reports the bytes skipped.
   */
  read(offset: number, max: number): { data: Buffer; offset: number; skipped: number } {
    const headLen = this.headQ.length;
    if (offset < headLen) {
      return { data: this.headQ.slice(offset, Math.min(headLen, offset + max)), offset, skipped: 0 };
    }
    const tailStart = this.tailStart;
    const from = Math.max(offset, tailStart);
    const skipped = from - offset;
    const rel = from - tailStart;
    return { data: this.tailQ.slice(rel, rel + max), offset: from, skipped };
  }
}
