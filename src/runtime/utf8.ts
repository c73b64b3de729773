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
