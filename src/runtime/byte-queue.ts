const MIN_BLOCK = 256;
const MAX_BLOCK = 64 * 1024;
/** A chunk at least this long is kept as it is rather than copied (see append). */
const KEEP_MIN = 4 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Bytes in a list of blocks. Small appends are copied into blocks that grow
 * from small to 64 KiB, so that tiny outputs cost little memory and a stream
 * of one-byte writes does not become millions of Buffer objects. A large
 * chunk that owns its memory (a pipe read) is kept as it is: no copy on the
 * way in, and reads of it are views. Every block but the last is full.
 */
export class ByteQueue {
  private blocks: Buffer[] = [];
  /** Bytes used in the last block. */
  private lastUsed = 0;
  /** Bytes skipped at the front of the first block. */
  private frontSkip = 0;
  length = 0;

  append(data: Buffer): void {
    if (data.length === 0) return;
    this.length += data.length;
    // Kept only when it does not hold much more memory than its bytes (a view into a big buffer would).
    if (data.length >= KEEP_MIN && data.buffer.byteLength <= 2 * data.length) {
      this.seal();
      this.blocks.push(data);
      this.lastUsed = data.length;
      return;
    }
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
  }

  /** Make the last block full before a kept chunk follows it: trimmed to its bytes (copied when most of it is unused). */
  private seal(): void {
    const i = this.blocks.length - 1;
    const last = this.blocks[i];
    if (!last || this.lastUsed === last.length) return;
    if (this.lastUsed * 2 >= last.length) this.blocks[i] = last.subarray(0, this.lastUsed);
    else {
      const exact = Buffer.allocUnsafeSlow(this.lastUsed);
      last.copy(exact, 0, 0, this.lastUsed);
      this.blocks[i] = exact;
    }
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

  /** The bytes of each block that overlap [start, end) relative to the current front, in order: views, no copy. */
  *views(start: number, end: number): Generator<Buffer> {
    end = Math.min(end, this.length);
    if (end <= start) return;
    let pos = -this.frontSkip;
    const lastIndex = this.blocks.length - 1;
    for (let i = 0; i <= lastIndex; i++) {
      const b = this.blocks[i] as Buffer;
      const used = i === lastIndex ? this.lastUsed : b.length;
      const bStart = pos;
      pos += used;
      if (pos <= start) continue;
      if (bStart >= end) return;
      yield b.subarray(Math.max(0, start - bStart), Math.min(used, end - bStart));
    }
  }

  /** Bytes from `start` up to `end` or the end of the block holding `start`, whichever comes first: always a view. */
  peek(start: number, end: number): Buffer {
    for (const v of this.views(start, end)) return v;
    return EMPTY;
  }

  /**
   * Bytes [start, end) relative to the current front: a view when they lie in
   * one block (written bytes never change), else a copy.
   */
  slice(start: number, end: number): Buffer {
    end = Math.min(end, this.length);
    if (end <= start) return Buffer.alloc(0);
    const parts = [...this.views(start, end)];
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, end - start);
  }

  toBuffer(): Buffer {
    return this.slice(0, this.length);
  }
}
