/* eslint-disable @typescript-eslint/no-non-null-assertion -- byte indices in a hot loop, in range by the loop bounds */

/** 1 for the bytes a JSON string must escape: controls, `"` and `\`. */
const ESCAPE = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) ESCAPE[c] = 1;
ESCAPE[0x22] = 1;
ESCAPE[0x5c] = 1;
/** The short escapes (\n, \t, …) by byte; 0: the byte becomes \u00XX. */
const SHORT = new Uint8Array(256);
for (const [c, e] of [
  [0x08, 0x62],
  [0x09, 0x74],
  [0x0a, 0x6e],
  [0x0c, 0x66],
  [0x0d, 0x72],
  [0x22, 0x22],
  [0x5c, 0x5c],
] as const)
  SHORT[c] = e;
const HEX = Buffer.from('0123456789abcdef');
/** The longest escape (\u00XX). */
const WORST = 6;

/**
 * Whether none of the four bytes of `w` needs an escape: no byte below 0x20,
 * none equal to `"` (0x22) or `\` (0x5c). Word-at-a-time tests (SWAR, "Bit
 * Twiddling Hacks"): (x - 0x01010101) & ~x & 0x80808080 is non-zero exactly
 * when a byte of x is 0, and with 0x20202020 when a byte is below 0x20; a byte
 * equal to b is a zero byte of x ^ (b * 0x01010101). Exact as a yes/no test,
 * which is all that is asked of it. JS bit operations work on 32 bits: the
 * subtractions may go negative and are taken modulo 2^32, as in C.
 */
function plainWord(w: number): boolean {
  const quote = w ^ 0x22222222;
  const backslash = w ^ 0x5c5c5c5c;
  const flagged = ((w - 0x20202020) & ~w) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash);
  return (flagged & 0x80808080) === 0;
}

/**
 * The bytes of valid UTF-8 text as the contents of a JSON string (without the
 * quotes), written into `out` from `at`, using no byte at or past `limit`;
 * returns the new position, or -1 if the room ran out (the caller then sizes
 * the output exactly and writes again). What JSON leaves alone (all but
 * controls, `"` and `\`; multi-byte characters included) is copied as it
 * is: the text never becomes a JS string, and this gives what
 * JSON.stringify of the decoded text would. Four bytes at a time while they
 * need no escape (a line of text has a few escapes: a newline, quotes), one
 * at a time around an escape: about 4 times as fast as a byte loop.
 */
function writeBody(text: Buffer, out: Buffer, at: number, limit: number): number {
  let o = at;
  const n = text.length;
  const src = new DataView(text.buffer, text.byteOffset, n);
  const dst = new DataView(out.buffer, out.byteOffset, out.length);
  const words = n - 3;
  let i = 0;
  while (i < n) {
    if (i < words) {
      const w = src.getUint32(i, true);
      // Plain bytes take one byte each, and the room for them is kept (below): four fit.
      if (plainWord(w)) {
        dst.setUint32(o, w, true);
        o += 4;
        i += 4;
        continue;
      }
    }
    const c = text[i]!;
    i++;
    if (ESCAPE[c] === 0) {
      out[o++] = c;
      continue;
    }
    const short = SHORT[c]!;
    // Plain bytes take one byte each: only an escape can use up the room (the bytes after it still need theirs).
    if (o + (short !== 0 ? 2 : WORST) + (n - i) > limit) return -1;
    out[o++] = 0x5c;
    if (short !== 0) out[o++] = short;
    else {
      out[o++] = 0x75;
      out[o++] = 0x30;
      out[o++] = 0x30;
      out[o++] = HEX[c >> 4]!;
      out[o++] = HEX[c & 15]!;
    }
  }
  return o;
}

/** How many bytes the escaped contents of `text` take. */
function bodyLength(text: Buffer): number {
  let extra = 0;
  const n = text.length;
  const src = new DataView(text.buffer, text.byteOffset, n);
  const words = n - 3;
  let i = 0;
  while (i < n) {
    if (i < words && plainWord(src.getUint32(i, true))) {
      i += 4;
      continue;
    }
    const c = text[i++]!;
    if (ESCAPE[c] === 1) extra += SHORT[c] !== 0 ? 1 : 5;
  }
  return n + extra;
}

/**
 * Parts of valid UTF-8 text (split anywhere, even inside a character: they
 * are bytes) joined as one JSON string literal, quotes included. One pass
 * when the escapes fit in an eighth more room than the text, as in ordinary
 * output; a counting pass first otherwise. `alloc` gives the buffer (of
 * exactly the size asked; asked again, larger, when the first was short).
 */
export function jsonStringBytes(parts: readonly Buffer[], alloc: (size: number) => Buffer = (size) => Buffer.allocUnsafe(size)): Buffer {
  let size = 0;
  for (const p of parts) size += p.length;
  const guess = write(parts, alloc(size + (size >> 3) + WORST + 2));
  if (guess !== null) return guess;
  let exact = 2;
  for (const p of parts) exact += bodyLength(p);
  return write(parts, alloc(exact)) as Buffer;
}

function write(parts: readonly Buffer[], out: Buffer): Buffer | null {
  let later = 0;
  for (const p of parts) later += p.length;
  out[0] = 0x22;
  let at = 1;
  for (const p of parts) {
    later -= p.length;
    // The closing quote and the later parts (one byte each at least) keep their room.
    at = writeBody(p, out, at, out.length - 1 - later);
    if (at < 0) return null;
  }
  out[at] = 0x22;
  return out.subarray(0, at + 1);
}
