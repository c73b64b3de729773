/**
 * NDJSON framing with a size cap: calls `onLine` for each complete line and
 * `onTooLarge` once when a line grows past `maxBytes` (the caller then closes).
 */
export class LineReader {
  private chunks: Buffer[] = [];
  private pending = 0;
  private dead = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLarge: () => void,
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
        line = Buffer.concat(this.chunks, this.pending + part.length);
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
    this.chunks = [];
    this.pending = 0;
    this.onTooLarge();
  }
}
