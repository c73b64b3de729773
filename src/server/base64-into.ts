/* eslint-disable @typescript-eslint/no-non-null-assertion -- table and byte indices in a hot loop, in range by construction */

const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
/** Two base64 characters per 12 bits, the first in the low byte (written little-endian). */
const PAIR = new Uint16Array(4096);
for (let i = 0; i < 4096; i++) PAIR[i] = ALPHABET[i >> 6]! | (ALPHABET[i & 63]! << 8);
const PAD = 0x3d;

/** How many bytes the base64 text of `n` bytes takes (padded). */
export function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}

/**
 * The base64 text (standard alphabet, padded) of `src` written into `out`
 * from `at`; returns the position after it. `out` needs base64Length(src.length)
 * bytes of room.
 *
 * Why not `src.toString('base64')`: that makes a JS string on the V8 heap,
 * 87 KiB for a 64 KiB chunk of a stream. Eleven of them fill the daemon's
 * 1 MB young generation, and a scavenge that often promotes the output
 * buffer's pipe reads, which then live in the old generation until the tail
 * of the buffer drops them: a 256 MiB stream cost about 50 full collections
 * this way (docs/benchmarks.md). Written here, the text never is a string.
 * Twelve bytes in, sixteen characters out per step, two characters per table
 * lookup.
 */
export function base64Into(src: Buffer, out: Buffer, at: number): number {
  const n = src.length;
  const steps = n - (n % 12);
  const sv = new DataView(src.buffer, src.byteOffset, n);
  const dv = new DataView(out.buffer, out.byteOffset, out.length);
  let o = at;
  let i = 0;
  for (; i < steps; i += 12) {
    const w0 = sv.getUint32(i);
    const w1 = sv.getUint32(i + 4);
    const w2 = sv.getUint32(i + 8);
    const v0 = w0 >>> 8;
    const v1 = ((w0 & 0xff) << 16) | (w1 >>> 16);
    const v2 = ((w1 & 0xffff) << 8) | (w2 >>> 24);
    const v3 = w2 & 0xffffff;
    dv.setUint32(o, PAIR[v0 >>> 12]! | (PAIR[v0 & 4095]! << 16), true);
    dv.setUint32(o + 4, PAIR[v1 >>> 12]! | (PAIR[v1 & 4095]! << 16), true);
    dv.setUint32(o + 8, PAIR[v2 >>> 12]! | (PAIR[v2 & 4095]! << 16), true);
    dv.setUint32(o + 12, PAIR[v3 >>> 12]! | (PAIR[v3 & 4095]! << 16), true);
    o += 16;
  }
  for (; i + 3 <= n; i += 3) {
    const v = (src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!;
    dv.setUint32(o, PAIR[v >>> 12]! | (PAIR[v & 4095]! << 16), true);
    o += 4;
  }
  const left = n - i;
  if (left > 0) {
    const v = (src[i]! << 16) | (left === 2 ? src[i + 1]! << 8 : 0);
    out[o] = ALPHABET[v >>> 18]!;
    out[o + 1] = ALPHABET[(v >>> 12) & 63]!;
    out[o + 2] = left === 2 ? ALPHABET[(v >>> 6) & 63]! : PAD;
    out[o + 3] = PAD;
    o += 4;
  }
  return o;
}
