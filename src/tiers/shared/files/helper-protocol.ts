/**
 * Frames between the daemon and a files helper process (helper-main.ts):
 * [u32 header length][u32 body length][header JSON][body bytes]. The header
 * says what the frame is (a request, an answer, a chunk of a stream, an
 * event); the body carries file bytes as they are, never inside JSON.
 */
export interface Frame {
  header: Record<string, unknown>;
  body: Buffer;
}

/** A header larger than this is a broken stream, not a frame. */
const MAX_HEADER = 64 * 1024 * 1024;

export function encodeFrame(header: Record<string, unknown>, body: Buffer = EMPTY): Buffer {
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.allocUnsafe(8);
  prefix.writeUInt32BE(head.length, 0);
  prefix.writeUInt32BE(body.length, 4);
  return Buffer.concat([prefix, head, body]);
}

const EMPTY = Buffer.alloc(0);

/** Splits a byte stream into frames; push() returns the complete ones. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.size < 8) break;
      if (this.chunks[0]!.length < 8) this.chunks = [Buffer.concat(this.chunks, this.size)];
      const first = this.chunks[0]!;
      const headLen = first.readUInt32BE(0);
      const bodyLen = first.readUInt32BE(4);
      if (headLen > MAX_HEADER) throw new Error(`a files helper frame announces a ${headLen}-byte header: the stream is broken`);
      const total = 8 + headLen + bodyLen;
      // Joined only once the whole frame is here: a large body is copied once, not per chunk.
      if (this.size < total) break;
      const buf = this.chunks.length === 1 ? first : Buffer.concat(this.chunks, this.size);
      const header = JSON.parse(buf.subarray(8, 8 + headLen).toString('utf8')) as Record<string, unknown>;
      const body = buf.subarray(8 + headLen, total);
      frames.push({ header, body });
      const rest = buf.subarray(total);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.size = rest.length;
    }
    return frames;
  }
}
