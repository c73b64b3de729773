const MIN_BLOCK = 256;
const MAX_BLOCK = 64 * 1024;

/**
 * Bytes in a list of blocks that grow from small to 64 KiB, so that tiny
 * outputs cost little memory and a stream of one-byte writes does not become
 * millions of Buffer objects. Every byte is copied once on the way in.
 */
export class ByteQueue {
  private blocks: Buffer[] = [];
  /** Bytes used in the last block. */
  private lastUsed = 0;
  /** Bytes skipped at the front of the first block. */
  private frontSkip = 0;
  length = 0;

  append(data: Buffer): void {
    let pos = 0;
    while (pos < data.length) {
      let last = this.blocks[this.blocks.length - 1];
      if (!last || this.lastUsed === last.length) {
        const size = last ? Math.min(MAX_BLOCK, last.length * 4) : MIN_BLOCK;
        last = Buffer.allocUnsafe(Math.max(size, Math.min(MAX_BLOCK, data.length - pos)));
        this.blocks.push(last);
        this.lastUsed = 0;
      }
      const n = data.copy(last, this.lastUsed, pos);
      this.lastUsed += n;
      pos += n;
    }
    this.length += data.length;
  }

  /** Forget the first `n` bytes. */
  dropFront(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    while (n > 0) {
      const first = this.blocks[0];
      if (!first) break; // cannot happen: n <= length, and length counts bytes in blocks
      const used = (this.blocks.length === 1 ? this.lastUsed : first.length) - this.frontSkip;
      if (n >= used && this.blocks.length > 1) {
        this.blocks.shift();
        this.frontSkip = 0;
        n -= used;
      } else {
        this.frontSkip += n;
        n = 0;
      }
    }
    if (this.length === 0) {
      this.blocks = [];
      this.lastUsed = 0;
      this.frontSkip = 0;
    }
  }

  /**
   * Bytes [start, end) relative to the current front: a view when they lie in
   * one block (written bytes never change), else a copy.
   */
  slice(start: number, end: number): Buffer {
    end = Math.min(end, this.length);
    if (end <= start) return Buffer.alloc(0);
    let pos0 = -this.frontSkip;
    for (const [i, b] of this.blocks.entries()) {
      const used = i === this.blocks.length - 1 ? this.lastUsed : b.length;
      if (start >= pos0 && end <= pos0 + used) return b.subarray(start - pos0, end - pos0);
      if (pos0 + used > start) break;
      pos0 += used;
    }
    const out = Buffer.allocUnsafe(end - start);
    let pos = -this.frontSkip;
    let written = 0;
    for (const [i, b] of this.blocks.entries()) {
      if (written >= out.length) break;
      const used = i === this.blocks.length - 1 ? this.lastUsed : b.length;
      const bStart = pos;
      const bEnd = pos + used;
      pos = bEnd;
      if (bEnd <= start) continue;
      const from = Math.max(0, start - bStart);
      const to = Math.min(used, end - bStart);
      if (to > from) written += b.copy(out, written, from, to);
    }
    return out;
  }

  toBuffer(): Buffer {
    return this.slice(0, this.length);
  }
}
