/**
 * Line windows of a text (fs.read's line mode): lines are what ends in
 * `\n` (a last line without one counts; a file ending in `\n` has no empty
 * line after it), returned with their own line endings, a line longer than
 * `maxChars` clipped with a marker that says how much was cut.
 */
export interface LineWindow {
  content: string;
  /** Lines in the whole text. */
  total: number;
  /** Lines in content. */
  count: number;
  clipped: number;
  /** The window reaches the last line. */
  eof: boolean;
}

export function clipMarker(cut: number): string {
  return ` [… ${cut} more characters clipped]`;
}

export function lineWindow(text: string, offset: number, limit: number, maxChars: number): LineWindow {
  const parts: string[] = [];
  let total = 0;
  let clipped = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    const next = end === -1 ? text.length : end + 1;
    if (end === -1) end = text.length;
    if (total >= offset && total < offset + limit) {
      const body = text.charCodeAt(end - 1) === 13 && end > start ? end - 1 : end;
      const terminator = text.slice(body, next);
      if (body - start > maxChars) {
        parts.push(text.slice(start, start + maxChars) + clipMarker(body - start - maxChars) + terminator);
        clipped++;
      } else parts.push(text.slice(start, next));
    }
    total++;
    start = next;
  }
  const count = parts.length;
  return { content: parts.join(''), total, count, clipped, eof: offset + count >= total };
}
