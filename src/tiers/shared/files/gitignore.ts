import { globSource } from './glob.js';

/**
 * .gitignore rules (gitignore(5)): blank lines and `#` comments skipped,
 * trailing spaces dropped unless escaped, `!` re-includes, a trailing `/`
 * matches directories only, a `/` elsewhere anchors the pattern to the
 * file's directory (otherwise it matches a name at any depth), `*` `?`
 * `[..]` within a name and `**` across directories. The last matching rule
 * wins; rules of deeper files come later. A directory that is ignored is not
 * entered, so nothing below it can be re-included (as in git).
 */
interface Rule {
  re: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

export function parseGitignore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (let line of text.split('\n')) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '' || line.startsWith('#')) continue;
    line = trimTrailingSpaces(line);
    if (line === '') continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\!') || line.startsWith('\\#')) {
      line = line.slice(1);
    }
    let dirOnly = false;
    if (line.endsWith('/')) {
      dirOnly = true;
      line = line.replace(/\/+$/, '');
    }
    if (line === '') continue;
    const anchored = line.includes('/');
    line = line.replace(/^\/+/, '');
    const glob = anchored || line.startsWith('**/') ? line : `**/${line}`;
    try {
      rules.push({ re: new RegExp(globSource(glob)), negate, dirOnly });
    } catch {
      /* a pattern git would not understand either: skipped */
    }
  }
  return rules;
}

function trimTrailingSpaces(line: string): string {
  let end = line.length;
  while (end > 0 && line[end - 1] === ' ' && line[end - 2] !== '\\') end--;
  return line.slice(0, end).replace(/\\ $/, ' ');
}

/** The rules in force in one directory: its own .gitignore on top of its ancestors'. */
export class IgnoreStack {
  private constructor(private readonly layers: readonly { base: string; rules: Rule[] }[]) {}

  static empty(): IgnoreStack {
    return new IgnoreStack([]);
  }

  /** Add the rules of the .gitignore of the directory `base` (relative to where paths are measured from). */
  with(base: string, text: string | null): IgnoreStack {
    if (text === null) return this;
    const rules = parseGitignore(text);
    return rules.length === 0 ? this : new IgnoreStack([...this.layers, { base, rules }]);
  }

  /** Whether `rel` (a path measured like the bases) is ignored. */
  ignores(rel: string, isDir: boolean): boolean {
    let ignored = false;
    for (const layer of this.layers) {
      const sub = layer.base === '' ? rel : rel.startsWith(layer.base + '/') ? rel.slice(layer.base.length + 1) : null;
      if (sub === null) continue;
      for (const rule of layer.rules) {
        if (rule.dirOnly && !isDir) continue;
        if (rule.re.test(sub)) ignored = !rule.negate;
      }
    }
    return ignored;
  }
}
