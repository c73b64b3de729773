/**
 * Globs as regular expressions over '/'-separated relative paths: `*` and
 * `?` within one name, `[abc]`, `[!a-z]`, `{a,b}`, `\` escapes, and `**` as
 * a whole component for any number of directories. The same rules serve
 * fs.search, fs.grep's file filter and .gitignore (gitignore.ts). A dot is
 * not special: `*` matches `.env` too.
 */

const SPECIAL = /[.+^${}()|[\]\\*?]/g;

export function escapeRegex(text: string): string {
  return text.replace(SPECIAL, '\\$&');
}

/** The regular expression source of one glob over a whole relative path (anchored at both ends). */
export function globSource(glob: string): string {
  const parts = glob.split('/');
  let out = '';
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    if (part === '**') {
      // `a/**` is everything inside a; `**/b` and `a/**/b` any number of directories, none included.
      out += last ? '.*' : '(?:[^/]*/)*';
      return;
    }
    out += componentSource(part);
    if (!last) out += '/';
  });
  return `^${out}$`;
}

export function globRegex(glob: string): RegExp {
  return new RegExp(globSource(glob));
}

/** One path component of a glob (no '/'). */
function componentSource(part: string): string {
  let out = '';
  for (let i = 0; i < part.length; i++) {
    const c = part[i]!;
    if (c === '\\' && i + 1 < part.length) {
      out += escapeRegex(part[++i]!);
    } else if (c === '*') {
      while (part[i + 1] === '*') i++;
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const cls = bracket(part, i);
      if (cls) {
        out += cls.source;
        i = cls.end;
      } else out += '\\[';
    } else if (c === '{') {
      const alt = braces(part, i);
      if (alt) {
        out += alt.source;
        i = alt.end;
      } else out += '\\{';
    } else {
      out += escapeRegex(c);
    }
  }
  return out;
}

/** `[...]` starting at `start`: its regex class and the index of its `]`, or null when it does not close. */
function bracket(part: string, start: number): { source: string; end: number } | null {
  let i = start + 1;
  let negate = false;
  if (part[i] === '!' || part[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  // A `]` right after the opening is a member, as in shells.
  if (part[i] === ']') {
    body += '\\]';
    i++;
  }
  for (; i < part.length; i++) {
    const c = part[i]!;
    if (c === ']') return { source: `[${negate ? '^/' : ''}${body}]`, end: i };
    if (c === '\\' && i + 1 < part.length) body += '\\' + part[++i];
    else if (c === '-') body += '-';
    else body += c.replace(/[\\\]^[]/g, '\\$&');
  }
  return null;
}

/** `{a,b,c}` starting at `start` (nesting allowed): an alternation and the index of its `}`, or null. */
function braces(part: string, start: number): { source: string; end: number } | null {
  let depth = 0;
  const alts: string[] = [];
  let cur = '';
  for (let i = start + 1; i < part.length; i++) {
    const c = part[i]!;
    if (c === '\\' && i + 1 < part.length) {
      cur += c + part[++i];
    } else if (c === '{') {
      depth++;
      cur += c;
    } else if (c === '}' && depth > 0) {
      depth--;
      cur += c;
    } else if (c === ',' && depth === 0) {
      alts.push(cur);
      cur = '';
    } else if (c === '}') {
      alts.push(cur);
      if (alts.length < 2) return null;
      return { source: `(?:${alts.map(componentSource).join('|')})`, end: i };
    } else cur += c;
  }
  return null;
}

/**
 * A matcher of fs.search patterns and fs.grep file filters: without a '/'
 * the glob matches a name at any depth; with one, the path relative to the
 * start (a leading '/' anchors it there, as it does anyway).
 */
export function pathMatcher(glob: string): (rel: string, name: string) => boolean {
  const trimmed = glob.replace(/^\/+/, '').replace(/\/+$/, '');
  const re = globRegex(trimmed);
  return trimmed.includes('/') ? (rel) => re.test(rel) : (_rel, name) => re.test(name);
}
