import { isUtf8 } from 'node:buffer';

/**
 * Length of the longest prefix of `buf` that does not end inside a UTF-8
 * sequence: cutting there never splits a character. Invalid bytes count as
 * complete (they decode to U+FFFD either way).
 */
export function utf8CompletePrefix(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

const EMPTY = Buffer.alloc(0);

/** Bytes in the UTF-8 sequence a lead byte starts (1 for anything that is not a lead). */
function sequenceLength(lead: number): number {
  return lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xc2 && lead < 0xe0 ? 2 : 1;
}

/**
 * Whether the bytes of `parts`, joined, are valid UTF-8, without joining
 * them: each part is checked where it ends on a whole character, and a
 * character split between parts is checked on its own.
 */
export function isUtf8Parts(parts: Iterable<Buffer>): boolean {
  let carry: Buffer = EMPTY;
  for (const part of parts) {
    let bytes = part;
    if (carry.length > 0) {
      const need = sequenceLength(carry[0] as number) - carry.length;
      if (bytes.length < need) {
        carry = Buffer.concat([carry, bytes]);
        continue;
      }
      if (!isUtf8(Buffer.concat([carry, bytes.subarray(0, need)]))) return false;
      bytes = bytes.subarray(need);
    }
    const cut = utf8CompletePrefix(bytes);
    if (!isUtf8(bytes.subarray(0, cut))) return false;
    carry = bytes.subarray(cut);
  }
  return carry.length === 0;
}
