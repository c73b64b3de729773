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
  /** Raw bytes that follow the last line (its `onLine` said how many): still to come, and where they go. */
  private attachedLeft = 0;
  private attached: Buffer | null = null;
  private attachedAt = 0;

  /** `onAttached`: the raw bytes announced with attach(), in one buffer valid only during the call. */
  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLarge: () => void,
    private readonly keepBytes = 0,
    private readonly onAttached: (bytes: Buffer) => void = () => undefined,
  ) {}

  push(chunk: Buffer): void {
    if (this.dead) return;
    let start = 0;
    for (;;) {
      if (this.attachedLeft > 0) {
        start = this.takeAttached(chunk, start);
        if (this.attachedLeft > 0 || this.dead) return;
      }
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

  /**
   * Called from `onLine`: `bytes` raw bytes follow this line (exec.run's
   * `raw_output`). They are not lines: `onAttached` gets them, and reading
   * lines goes on after them.
   */
  attach(bytes: number): void {
    if (bytes === 0) this.onAttached(Buffer.alloc(0));
    else this.attachedLeft = bytes;
  }

  /**
   * Raw bytes after a line, from `chunk` at `start`; returns where the chunk's
   * lines go on. Bytes that all came in one read are handed over as a view of
   * it; bytes split over reads are joined (in the kept buffer when they fit).
   */
  private takeAttached(chunk: Buffer, start: number): number {
    const n = Math.min(this.attachedLeft, chunk.length - start);
    if (this.attached === null && n === this.attachedLeft) {
      this.attachedLeft = 0;
      this.onAttached(chunk.subarray(start, start + n));
      return start + n;
    }
    if (this.attached === null) {
      this.attached = this.attachedLeft > this.keepBytes ? Buffer.allocUnsafe(this.attachedLeft) : this.kept(this.attachedLeft);
      this.attachedAt = 0;
    }
    this.attachedAt += chunk.copy(this.attached, this.attachedAt, start, start + n);
    this.attachedLeft -= n;
    if (this.attachedLeft === 0) {
      const bytes = this.attached;
      this.attached = null;
      this.onAttached(bytes);
    }
    return start + n;
  }

  /** The pending chunks as one buffer of `size` bytes, valid until the next join. */
  private join(size: number): Buffer {
    if (size > this.keepBytes) return Buffer.concat(this.chunks, size);
    const joined = this.kept(size);
    let at = 0;
    for (const c of this.chunks) at += c.copy(joined, at);
    return joined;
  }

  /** `size` bytes (at most keepBytes) of the buffer this reader keeps, grown when short. */
  private kept(size: number): Buffer {
    // Room for somewhat larger lines to come, within what may be kept.
    if (this.joinBuffer === null || this.joinBuffer.length < size) this.joinBuffer = Buffer.allocUnsafeSlow(Math.min(this.keepBytes, size + (size >> 2)));
    return this.joinBuffer.subarray(0, size);
  }

  /** The peer finished writing: a last line without a trailing newline still counts. */
  end(): void {
    // Raw bytes cut short by the end are dropped with it (the peer learns of the close).
    this.attached = null;
    this.attachedLeft = 0;
    if (this.dead || this.pending === 0) return;
    const text = Buffer.concat(this.chunks, this.pending).toString('utf8');
    this.chunks = [];
    this.pending = 0;
    if (text.trim().length > 0) this.onLine(text);
  }

  private tooLarge(): void {
    this.dead = true;
    this.joinBuffer = null;
    this.attached = null;
    this.chunks = [];
    this.pending = 0;
    this.onTooLarge();
  }
}
