/* eslint-disable @typescript-eslint/no-non-null-assertion -- byte and table indices in hot loops, in range by the loop bounds: no checks there */
/**
 * Parser for the output of a POSIX shell's `export -p`: `export NAME='v'`
 * (dash, busybox ash), `export NAME=v` with `'…'` and `$'…'` words (mksh),
 * `declare -x NAME="v"` and `$'…'` words (bash). Works on bytes so that octal
 * escapes of UTF-8 sequences decode correctly. Names exported without a value
 * (`declare -x OLDPWD`, `export HOME`) are skipped. Returns null on malformed
 * input. (zsh reports records instead: see parseRecords.)
 */
export function parseExportP(input: Buffer): Map<string, string> | null {
  const env = new Map<string, string>();
  const p = new WordReader(input);
  for (;;) {
    const words = p.statement();
    if (words === null) return null;
    if (words === 'eof') return env;
    if (words.length === 0) continue;
    let i = 0;
    const head = words[i]!.toString('latin1');
    if (head === 'export' || head === 'declare' || head === 'typeset') i++;
    while (i < words.length && words[i]![0] === 0x2d /* - */) i++;
    for (; i < words.length; i++) {
      const w = words[i]!;
      const eq = w.indexOf(0x3d /* = */);
      if (eq <= 0) continue;
      const name = w.subarray(0, eq).toString('latin1');
      if (!NAME.test(name)) continue;
      env.set(name, w.subarray(eq + 1).toString('utf8'));
    }
  }
}

/**
 * NUL-terminated `NAME=value` records, as the zsh trap writes them. Returns
 * null when the last record is not terminated (the writer was cut short).
 */
export function parseRecords(input: Buffer): Map<string, string> | null {
  const env = new Map<string, string>();
  let start = 0;
  while (start < input.length) {
    const end = input.indexOf(0, start);
    if (end < 0) return null;
    const rec = input.subarray(start, end);
    start = end + 1;
    const eq = rec.indexOf(0x3d /* = */);
    if (eq <= 0) continue;
    const name = rec.subarray(0, eq).toString('latin1');
    if (NAME.test(name)) env.set(name, rec.subarray(eq + 1).toString('utf8'));
  }
  return env;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SPACE = 0x20,
  TAB = 0x09,
  NL = 0x0a,
  SQ = 0x27,
  DQ = 0x22,
  BS = 0x5c,
  DOLLAR = 0x24;

class WordReader {
  private pos = 0;
  constructor(private readonly s: Buffer) {}

  /** The words of the next line; 'eof' at the end; null on a syntax error. */
  statement(): Buffer[] | 'eof' | null {
    const s = this.s;
    if (this.pos >= s.length) return 'eof';
    const words: Buffer[] = [];
    for (;;) {
      while (this.pos < s.length && (s[this.pos] === SPACE || s[this.pos] === TAB)) this.pos++;
      if (this.pos >= s.length) return words;
      if (s[this.pos] === NL) {
        this.pos++;
        return words;
      }
      const w = this.word();
      if (w === null) return null;
      words.push(w);
    }
  }

  private word(): Buffer | null {
    const s = this.s;
    const out: number[] = [];
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === SPACE || c === TAB || c === NL) break;
      if (c === SQ) {
        const end = s.indexOf(SQ, this.pos + 1);
        if (end < 0) return null;
        for (let i = this.pos + 1; i < end; i++) out.push(s[i]!);
        this.pos = end + 1;
      } else if (c === DQ) {
        this.pos++;
        for (;;) {
          if (this.pos >= s.length) return null;
          const d = s[this.pos]!;
          if (d === DQ) {
            this.pos++;
            break;
          }
          if (d === BS && this.pos + 1 < s.length) {
            const e = s[this.pos + 1]!;
            if (e === DQ || e === BS || e === DOLLAR || e === 0x60 /* ` */) {
              out.push(e);
              this.pos += 2;
              continue;
            }
            if (e === NL) {
              this.pos += 2;
              continue;
            }
          }
          out.push(d);
          this.pos++;
        }
      } else if (c === DOLLAR && s[this.pos + 1] === SQ) {
        this.pos += 2;
        if (!this.ansiC(out)) return null;
      } else if (c === BS) {
        if (this.pos + 1 >= s.length) return null;
        if (s[this.pos + 1] !== NL) out.push(s[this.pos + 1]!);
        this.pos += 2;
      } else {
        out.push(c);
        this.pos++;
      }
    }
    return Buffer.from(out);
  }

  /** Body of $'…' up to the closing quote, with bash's escapes. */
  private ansiC(out: number[]): boolean {
    const s = this.s;
    const simple: Record<string, number> = { a: 7, b: 8, e: 27, E: 27, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === SQ) {
        this.pos++;
        return true;
      }
      if (c !== BS) {
        out.push(c);
        this.pos++;
        continue;
      }
      const e = String.fromCharCode(s[this.pos + 1] ?? 0);
      this.pos += 2;
      if (e in simple) {
        out.push(simple[e]!);
      } else if (e >= '0' && e <= '7') {
        let v = Number(e);
        for (let k = 0; k < 2 && isOct(s[this.pos]); k++) v = v * 8 + (s[this.pos++]! - 0x30);
        out.push(v & 0xff);
      } else if (e === 'x') {
        let hex = '';
        while (hex.length < 2 && isHex(s[this.pos])) hex += String.fromCharCode(s[this.pos++]!);
        if (hex === '') return false;
        out.push(parseInt(hex, 16));
      } else if (e === 'u' || e === 'U') {
        let hex = '';
        const max = e === 'u' ? 4 : 8;
        while (hex.length < max && isHex(s[this.pos])) hex += String.fromCharCode(s[this.pos++]!);
        if (hex === '') return false;
        for (const b of Buffer.from(String.fromCodePoint(parseInt(hex, 16)), 'utf8')) out.push(b);
      } else if (e === 'c') {
        out.push((s[this.pos++] ?? 0) & 0x1f);
      } else {
        out.push(BS, s[this.pos - 1]!);
      }
    }
    return false;
  }
}

function isOct(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x37;
}
function isHex(c: number | undefined): boolean {
  return c !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(c));
}
