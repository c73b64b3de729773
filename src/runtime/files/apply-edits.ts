import { TrlError } from '../../protocol/errors.js';

export interface Edit {
  old: string;
  new: string;
  replace_all?: boolean | undefined;
}

export interface Edited {
  text: string;
  /** Occurrences replaced by each edit. */
  counts: number[];
  lineEnding: 'lf' | 'crlf';
}

/** The line endings of a text: CRLF when most of its line ends are. */
export function lineEndingOf(text: string): 'lf' | 'crlf' {
  let crlf = 0;
  let lf = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (text.charCodeAt(i - 1) === 13) crlf++;
    else lf++;
  }
  return crlf > lf ? 'crlf' : 'lf';
}

/** `\n` not already preceded by `\r` becomes `\r\n`. */
function toCrlf(s: string): string {
  return s.replace(/\r?\n/g, '\r\n');
}

function occurrences(text: string, needle: string): number[] {
  const at: number[] = [];
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) at.push(i);
  return at;
}

/**
 * Apply exact replacements in order, each to the result of the ones before;
 * all or none. Each `old` must occur exactly once unless replace_all (the
 * refusal names the count). In a CRLF file, an `old` written with `\n`
 * matches the file's `\r\n` and its `new` is written with `\r\n`: the file
 * keeps its line endings.
 */
export function applyEdits(original: string, edits: readonly Edit[]): Edited {
  const lineEnding = lineEndingOf(original);
  let text = original;
  const counts: number[] = [];
  edits.forEach((e, i) => {
    let old = e.old;
    let repl = e.new;
    let found = occurrences(text, old);
    if (found.length === 0 && lineEnding === 'crlf' && old.includes('\n')) {
      old = toCrlf(old);
      found = occurrences(text, old);
    }
    if (lineEnding === 'crlf') repl = toCrlf(repl);
    const where = edits.length > 1 ? `edit ${i} (edits[${i}].old)` : '`old`';
    if (found.length === 0) {
      throw new TrlError(
        'INVALID_PARAMS',
        `${where} does not occur in the file${i > 0 ? ' (after the edits before it)' : ''}; read the file again and copy the exact text, whitespace and line breaks included`,
        { edit: i, count: 0 },
      );
    }
    if (found.length > 1 && !e.replace_all) {
      throw new TrlError('INVALID_PARAMS', `${where} occurs ${found.length} times in the file; include more of the surrounding text so it matches exactly once, or pass replace_all: true`, {
        edit: i,
        count: found.length,
      });
    }
    counts.push(found.length);
    text = text.split(old).join(repl);
  });
  return { text, counts, lineEnding };
}
