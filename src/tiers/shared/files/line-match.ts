/** Bytes looked at for a NUL byte to call a file binary (git's own rule). */
export const BINARY_PROBE_BYTES = 8000;

export function looksBinary(content: Buffer): boolean {
  return content.subarray(0, BINARY_PROBE_BYTES).includes(0);
}

/** A line clipped to `max` characters (a surrogate pair is never split). */
export function clip(line: string, max: number): string {
  if (line.length <= max) return line;
  const end = /[\uD800-\uDBFF]/.test(line[max - 1] ?? '') ? max - 1 : max;
  return line.slice(0, end);
}

/**
 * The lines of `content` that `re` matches, numbered from 1, each clipped
 * to `maxChars`; 'binary' for a file with a NUL byte near its start. `re`
 * must have neither the g nor the y flag (no lastIndex state).
 */
export function matchLines(content: Buffer, re: RegExp, maxChars: number, onHit: (line: number, text: string) => boolean | void): 'binary' | 'ok' {
  if (looksBinary(content)) return 'binary';
  const text = content.toString('utf8');
  let start = 0;
  let n = 0;
  // A file ending in \n has no empty last line after it.
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    n++;
    const line = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
    if (re.test(line) && onHit(n, clip(line, maxChars)) === false) return 'ok';
    start = end + 1;
  }
  return 'ok';
}
