/**
 * NDJSON framing with a size cap: calls `onLine` for each complete line and
 * `onTooLarge` once when a line grows past `maxBytes` (the caller then closes).
 *
 * A line split over several reads is joined before it is decoded. With
 * `keepBytes`, the join goes into a buffer this reader keeps for the next
 * such line (up to `keepBytes` long), instead of a new one each time: a
 * buffer of megabytes is fresh memory the kernel maps in page by page
 * (about 13 ms for 4 MiB on a Firecracker VM), and glibc gives every
 * allocation of that size fresh memory. A client that receives large
 * answers one after another keeps one such buffer; the daemon, reading
 * requests from many connections, keeps none.
 */
export class LineReader {
  private chunks: Buffer[] = [];
  private pending = 0;
  private dead = false;
  private joinBuffer: Buffer | null = null;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLarge: () => void,
    private readonly keepBytes = 0,
  ) {}

  push(chunk: Buffer): void {
    if (this.dead) return;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const part = chunk.subarray(start, nl);
      if (this.pending + part.length > this.maxBytes) return this.tooLarge();
      let line: Buffer;
      if (this.chunks.length === 0) line = part;
      else {
        this.chunks.push(part);
        line = this.join(this.pending + part.length);
        this.chunks = [];
        this.pending = 0;
      }
      start = nl + 1;
      const text = line.toString('utf8');
      if (text.trim().length > 0) this.onLine(text);
      if (this.dead) return;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.pending += rest.length;
      if (this.pending > this.maxBytes) return this.tooLarge();
      this.chunks.push(rest);
    }
  }

  /** The pending chunks as one buffer of `size` bytes, valid until the next join. */
  private join(size: number): Buffer {
    if (size > this.keepBytes) return Buffer.concat(this.chunks, size);
    // Room for somewhat larger lines to come, within what may be kept.
    if (this.joinBuffer === null || this.joinBuffer.length < size) this.joinBuffer = Buffer.allocUnsafeSlow(Math.min(this.keepBytes, size + (size >> 2)));
    let at = 0;
    for (const c of this.chunks) at += c.copy(this.joinBuffer, at);
    return this.joinBuffer.subarray(0, size);
  }

  /** The peer finished writing: a last line without a trailing newline still counts. */
  end(): void {
    if (this.dead || this.pending === 0) return;
    const text = Buffer.concat(this.chunks, this.pending).toString('utf8');
    this.chunks = [];
    this.pending = 0;
    if (text.trim().length > 0) this.onLine(text);
  }

  private tooLarge(): void {
    this.dead = true;
    this.joinBuffer = null;
    this.chunks = [];
    this.pending = 0;
    this.onTooLarge();
  }
}
