/* eslint-disable @typescript-eslint/no-non-null-assertion -- byte and table indices in hot loops, in range by the loop bounds: no checks there */
import { AhoCorasick } from './aho-corasick.js';

export const REDACTED = '[REDACTED]';
const MARK = Buffer.from(REDACTED);
const EMPTY = Buffer.alloc(0);

/**
 * The two redactors of a command (stdout, stderr) get the same values array:
 * they share one automaton. Weak both ways, so that nothing outlives them.
 */
const shared = new WeakMap<readonly string[], WeakRef<AhoCorasick>>();

function automatonFor(values: readonly string[]): AhoCorasick {
  const known = shared.get(values)?.deref();
  if (known) return known;
  const built = new AhoCorasick(values);
  shared.set(values, new WeakRef(built));
  return built;
}

/**
 * Replaces secret values in a byte stream with [REDACTED], also when a value
 * is split across chunks, in time linear in the bytes whatever the secrets.
 *
 * The rule: every byte that belongs to an occurrence of a secret is hidden;
 * occurrences that overlap (a secret inside another, two that share bytes,
 * one value repeated into itself) become a single [REDACTED]; occurrences
 * that merely touch stay one [REDACTED] each. (Leftmost-longest matching
 * would print the tail of a secret that overlaps an earlier match.)
 *
 * What cannot be decided yet is held back: the bytes that may still begin
 * a secret, which are exactly the automaton state's string (read back from
 * the automaton, not copied; those not hidden are fewer than the longest
 * secret's bytes), and the hidden runs a later match could still extend.
 */
export class Redactor {
  private automaton: AhoCorasick | null = null;
  private state = 0;
  /** Bytes fed so far (positions below are absolute offsets in the stream). */
  private pos = 0;
  /** Everything before this offset has been returned. */
  private emitted = 0;
  /** The held bytes: the stream's bytes [pos - held.length, pos). */
  private held: Buffer = EMPTY;
  /** Hidden runs not yet returned: disjoint, in order, from runHead on. */
  private runStart: number[] = [];
  private runEnd: number[] = [];
  private runHead = 0;
  /** Offset where the current chunk starts (for onMatch). */
  private chunkAt = 0;
  /** Automaton transitions taken so far: at most twice the bytes fed (see AhoCorasick). */
  readonly work = { steps: 0 };

  constructor(private readonly values: readonly string[]) {}

  get active(): boolean {
    return this.values.some((v) => v.length > 0);
  }

  /** Bytes fed but neither returned nor hidden yet (always below the longest secret's length). */
  get pending(): number {
    let hidden = 0;
    for (let i = this.runHead; i < this.runStart.length; i++) hidden += this.runEnd[i]! - Math.max(this.runStart[i]!, this.emitted);
    return this.pos - this.emitted - hidden;
  }

  /** The bytes of `chunk` (after any held ones) that are decided, secrets replaced. */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return EMPTY;
    // Built on first use (again after flush, which lets it go): a finished command keeps no automaton alive.
    const ac = (this.automaton ??= automatonFor(this.values));
    this.chunkAt = this.pos;
    this.state = ac.scan(this.state, chunk, this.onMatch, this.work);
    this.pos += chunk.length;
    const out = this.emit(this.pos - ac.depth(this.state), chunk);
    this.held = ac.bytes(this.state);
    return out;
  }

  /** The stream ended: what was held back is decided (hidden runs close, the rest was not a secret). */
  flush(): Buffer {
    const out = this.emit(this.pos, EMPTY);
    this.held = EMPTY;
    this.state = 0;
    this.automaton = null;
    return out;
  }

  private readonly onMatch = (end: number, length: number): void => {
    const e = this.chunkAt + end;
    let s = e - length;
    // Runs end in order; the new one swallows every earlier run it overlaps.
    while (this.runStart.length > this.runHead && s < this.runEnd[this.runEnd.length - 1]!) {
      s = Math.min(s, this.runStart.pop()!);
      this.runEnd.pop();
    }
    this.runStart.push(s);
    this.runEnd.push(e);
  };

  /**
   * Return the stream's bytes [emitted, boundary) with hidden runs replaced,
   * except a run that ends after `boundary` (a match starting at or after
   * `boundary` could still overlap it). `chunk` holds the bytes from
   * pos - chunk.length, `held` those just before it.
   */
  private emit(boundary: number, chunk: Buffer): Buffer {
    const parts: Buffer[] = [];
    const chunkAt = this.pos - chunk.length;
    const heldAt = chunkAt - this.held.length;
    const raw = (from: number, to: number) => {
      if (to <= from) return;
      // Bytes that are not hidden are never older than the held ones (they could not begin a secret).
      if (from < chunkAt) parts.push(this.held.subarray(from - heldAt, Math.min(to, chunkAt) - heldAt));
      if (to > chunkAt) parts.push(chunk.subarray(Math.max(from, chunkAt) - chunkAt, to - chunkAt));
    };
    let i = this.runHead;
    for (; i < this.runStart.length && this.runEnd[i]! <= boundary; i++) {
      raw(this.emitted, this.runStart[i]!);
      parts.push(MARK);
      this.emitted = this.runEnd[i]!;
    }
    const limit = i < this.runStart.length ? Math.min(boundary, this.runStart[i]!) : boundary;
    raw(this.emitted, limit);
    this.emitted = Math.max(this.emitted, limit);
    this.dropRuns(i);
    return parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Forget the runs before index `i` (returned); compact now and then so that dropping stays O(1) amortised. */
  private dropRuns(i: number): void {
    if (i === this.runStart.length) {
      this.runStart.length = 0;
      this.runEnd.length = 0;
      this.runHead = 0;
    } else if (i > 1024 && i * 2 > this.runStart.length) {
      this.runStart = this.runStart.slice(i);
      this.runEnd = this.runEnd.slice(i);
      this.runHead = 0;
    } else {
      this.runHead = i;
    }
  }
}

/**
 * Redact a whole string (command text for logs and the audit log, paths in
 * error messages). Only values no longer than the text can occur in it, so
 * the automaton is built from those alone: cheap for short texts however
 * long the secrets are.
 */
export function redactText(text: string, values: readonly string[]): string {
  if (text.length === 0 || values.length === 0) return text;
  const bytes = Buffer.from(text);
  // A value's UTF-16 length never exceeds its UTF-8 length: a cheap first cut before measuring bytes.
  const fit = values.filter((v) => v.length > 0 && v.length <= bytes.length && Buffer.byteLength(v) <= bytes.length);
  if (fit.length === 0) return text;
  const r = new Redactor(fit);
  const out = Buffer.concat([r.push(bytes), r.flush()]);
  // Unchanged: return the text itself (a lone surrogate would not survive the round trip through UTF-8).
  return out.equals(bytes) ? text : out.toString('utf8');
}
