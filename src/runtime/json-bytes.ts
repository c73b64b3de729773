/* eslint-disable @typescript-eslint/no-non-null-assertion -- byte indices in a hot loop, in range by the loop bounds */

/** 1 for the bytes a JSON string must escape: controls, `"` and `\`. */
const ESCAPE = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) ESCAPE[c] = 1;
ESCAPE[0x22] = 1;
ESCAPE[0x5c] = 1;
/** The short escapes (\n, \t, …); the other controls become \u00XX. */
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

/**
 * The bytes of valid UTF-8 text as the contents of a JSON string (without the
 * quotes), written into `out` at `at`; returns the new position. What JSON
 * leaves alone (all but controls, `"` and `\`, multi-byte characters
 * included) is copied as it is, so the text never becomes a JS string: this
 * is what JSON.stringify of the decoded text would give, in one pass over
 * the bytes. `out` needs room for 6 bytes per input byte at worst (see
 * jsonStringBytes).
 */
export function writeJsonStringBody(text: Buffer, out: Buffer, at: number): number {
  let o = at;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i]!;
    if (ESCAPE[c] === 0) {
      out[o++] = c;
      continue;
    }
    out[o++] = 0x5c;
    const short = SHORT[c]!;
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

/** How many bytes the escaped body of `text` takes (to size the output exactly). */
export function jsonStringBodyLength(text: Buffer): number {
  let extra = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i]!;
    if (ESCAPE[c] === 1) extra += SHORT[c] !== 0 ? 1 : 5;
  }
  return n + extra;
}

/** Valid UTF-8 parts joined as one JSON string literal (quotes included), as bytes. */
export function jsonStringBytes(parts: readonly Buffer[]): Buffer {
  let size = 2;
  for (const p of parts) size += jsonStringBodyLength(p);
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x22;
  let at = 1;
  for (const p of parts) at = writeJsonStringBody(p, out, at);
  out[at] = 0x22;
  return out;
}
