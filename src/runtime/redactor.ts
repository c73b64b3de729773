export const REDACTED = '[REDACTED]';
const MARK = Buffer.from(REDACTED);

/**
 * Replaces secret values in a byte stream with [REDACTED], also when a value
 * is split across chunks: the longest tail that could still begin a secret is
 * held back until the next chunk (or the end) decides it.
 */
export class Redactor {
  private readonly secrets: Buffer[];
  private readonly longest: number;
  private held: Buffer = Buffer.alloc(0);

  constructor(values: string[]) {
    this.secrets = values.map((v) => Buffer.from(v));
    this.longest = this.secrets.reduce((m, s) => Math.max(m, s.length), 0);
  }

  get active(): boolean {
    return this.secrets.length > 0;
  }

  /** The bytes of `chunk` (after any held ones) that are decided, secrets replaced. */
  push(chunk: Buffer): Buffer {
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    const out = this.replaceAll(data);
    const keep = this.pendingPrefix(out);
    this.held = keep > 0 ? Buffer.from(out.subarray(out.length - keep)) : Buffer.alloc(0);
    return keep > 0 ? out.subarray(0, out.length - keep) : out;
  }

  /** The stream ended: what was held back is not a secret after all. */
  flush(): Buffer {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return rest;
  }

  private replaceAll(data: Buffer): Buffer {
    let cur = data;
    for (const s of this.secrets) {
      let at = cur.indexOf(s);
      if (at < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at >= 0) {
        parts.push(cur.subarray(from, at), MARK);
        from = at + s.length;
        at = cur.indexOf(s, from);
      }
      parts.push(cur.subarray(from));
      cur = Buffer.concat(parts);
    }
    return cur;
  }

  /** Length of the longest suffix of `data` that is a proper prefix of some secret. */
  private pendingPrefix(data: Buffer): number {
    const max = Math.min(this.longest - 1, data.length);
    for (let n = max; n > 0; n--) {
      const tail = data.subarray(data.length - n);
      for (const s of this.secrets) {
        if (s.length > n && s.subarray(0, n).equals(tail)) return n;
      }
    }
    return 0;
  }
}

/** Redact a whole string (command text for logs and the audit log). */
export function redactText(text: string, values: string[]): string {
  let out = text;
  for (const v of values) if (out.includes(v)) out = out.split(v).join(REDACTED);
  return out;
}
