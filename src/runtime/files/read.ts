import { createHash } from 'node:crypto';
import { DEFAULT_LINE_LIMIT, MAX_LINE_CHARS, type FsReadParams } from '../../protocol/files.js';
import { TrlError } from '../../protocol/errors.js';
import type { ResultOf } from '../../protocol/methods.js';
import { looksBinary } from '../../tiers/shared/files/line-match.js';
import type { EngineState } from '../engine-state.js';
import { filesContext, isoTime, modeText } from './files-context.js';
import { lineWindow } from './text-lines.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of a file, or null when it is binary (a NUL byte near the start, or not UTF-8). */
export function decodeText(data: Buffer): string | null {
  if (looksBinary(data)) return null;
  try {
    return strictUtf8.decode(data);
  } catch {
    return null;
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function binaryRefused(display: string): TrlError {
  return new TrlError('INVALID_PARAMS', `'${display}' is binary (a NUL byte, or not UTF-8): read it with encoding: base64`, { path: display, binary: true });
}

/**
 * fs.read. Line mode (utf8, no byte range): a window of lines of a file of
 * at most max_read_bytes, with the total, long lines clipped. Byte mode
 * (offset/length, or base64): at most max_read_bytes from offset.
 */
export async function fsRead(st: EngineState, p: FsReadParams): Promise<ResultOf<'fs.read'>> {
  const ctx = filesContext(st, p.session_id);
  const wp = ctx.path(p.path);
  const max = st.config.max_read_bytes;
  const encoding = p.encoding ?? 'utf8';
  const byteMode = p.offset !== undefined || p.length !== undefined || encoding === 'base64';
  const offset = byteMode ? (p.offset ?? 0) : 0;
  const length = byteMode ? Math.min(p.length ?? max, max) : max;
  const r = await ctx.run('read', wp, () => ctx.files.read(wp.rel, { offset, length, wholeUpTo: max }));
  const base = { path: wp.display, size: r.stat.size, sha256: r.whole ? sha256(r.data) : null, mtime: isoTime(r.stat.mtimeMs), mode: modeText(r.stat.mode) };
  if (byteMode) {
    const data = r.whole ? r.data.subarray(offset, offset + length) : r.data;
    const eof = offset + data.length >= r.stat.size;
    let content: string;
    if (encoding === 'base64') content = data.toString('base64');
    else {
      if (looksBinary(data)) throw binaryRefused(wp.display);
      content = data.toString('utf8');
    }
    return { ...base, content, encoding, eof, truncated: !(offset === 0 && eof), total_lines: null, line_offset: null, lines: null, clipped_lines: 0 };
  }
  if (!r.whole) {
    throw new TrlError(
      'FILE_TOO_LARGE',
      `'${wp.display}' is ${r.stat.size} bytes, more than max_read_bytes (${max}) for reading by lines; read a byte range (offset, length), download it with GET /v1/files, or search it with fs.grep`,
      { path: wp.display, size: r.stat.size, max_read_bytes: max },
    );
  }
  const text = decodeText(r.data);
  if (text === null) throw binaryRefused(wp.display);
  const lineOffset = p.line_offset ?? 0;
  const w = lineWindow(text, lineOffset, p.line_limit ?? DEFAULT_LINE_LIMIT, MAX_LINE_CHARS);
  return {
    ...base,
    content: w.content,
    encoding: 'utf8',
    eof: w.eof,
    truncated: lineOffset > 0 || !w.eof || w.clipped > 0,
    total_lines: w.total,
    line_offset: lineOffset,
    lines: w.count,
    clipped_lines: w.clipped,
  };
}
