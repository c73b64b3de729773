import { GENESIS, entryHash, lineMacValid, parseLine } from './audit-chain.js';
import type { AuditKey } from './audit-key.js';
import { formatPin, headMacValid, type AuditHead } from './audit-head.js';

/** A head to check the log against, and where it came from. */
export interface GivenHead extends AuditHead {
  /** `pinned`: given as HASH:LINES; `head file`: a file the operator kept; `sidecar`: FILE.head next to the log. */
  source: 'pinned' | 'head file' | 'sidecar';
  path?: string | undefined;
}

export interface VerifyResult {
  ok: boolean;
  lines: number;
  /** 1-based line number of the first line that does not verify (lines + 1: a line missing at the end). */
  brokenLine?: number;
  reason?: string;
  /** HASH:LINES of the log as read (on failure: of the lines before the broken one). */
  head: string;
  /** The key ids the lines carry: none for an unkeyed log. */
  keyIds: string[];
  /** Id of the key every line was authenticated with; null when no key was given. */
  authenticatedWith: string | null;
  /** The head that was found in the log, or null when none was given. */
  headChecked: { source: GivenHead['source']; path?: string | undefined; lines: number; authenticated: boolean; linesAfter: number } | null;
  /** What the check could not establish, in words. */
  notChecked: string[];
}

export interface VerifyOptions {
  key?: AuditKey | null | undefined;
  head?: GivenHead | null | undefined;
}

/** The first line that does not verify, thrown from the checks below and turned into the result. */
class Broken extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * Check an audit log:
 * - the chain: each line follows the previous one and matches its hash, so an
 *   edited, inserted, swapped or deleted line is named;
 * - every line is keyed the same way as the first (lines added without the key
 *   to a keyed log show even without the key);
 * - with the key: every line carries a valid MAC under it, so a rewrite with
 *   recomputed hashes fails;
 * - with a head: the log still contains it, so a cut tail is named.
 */
export function verifyAudit(text: string, opts: VerifyOptions = {}): VerifyResult {
  const key = opts.key ?? null;
  const lines = text.split('\n');
  const complete = text.length === 0 || text.endsWith('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const hashes: string[] = [];
  const keyIds = new Set<string>();
  const result = (extra: Partial<VerifyResult>): VerifyResult => ({
    ok: true,
    lines: lines.length,
    head: formatPin({ lines: hashes.length, hash: hashes[hashes.length - 1] ?? GENESIS }),
    keyIds: [...keyIds],
    authenticatedWith: null,
    headChecked: null,
    notChecked: [],
    ...extra,
  });
  try {
    checkLines(lines, complete, key, hashes, keyIds);
    const headChecked = opts.head ? checkHead(opts.head, hashes, keyIds, key) : null;
    return result({ authenticatedWith: key?.id ?? null, headChecked, notChecked: notChecked(key, keyIds, opts.head ?? null, headChecked?.authenticated ?? false) });
  } catch (err) {
    if (!(err instanceof Broken)) throw err;
    return result({ ok: false, brokenLine: err.line, reason: err.reason });
  }
}

function checkLines(lines: string[], complete: boolean, key: AuditKey | null, hashes: string[], keyIds: Set<string>): void {
  let prev = GENESIS;
  let firstKid: string | null | undefined;
  for (const [i, line] of lines.entries()) {
    const n = i + 1;
    if (n === lines.length && !complete) throw new Broken(n, 'incomplete: it does not end with a newline (a write cut short, or the file cut mid-line)');
    const p = parseLine(line);
    if (!p.ok) throw new Broken(n, p.reason);
    if (p.prev !== prev) throw new Broken(n, 'does not follow the previous line (a line before it was deleted, inserted or changed)');
    if (p.hash !== entryHash(prev, p.body)) throw new Broken(n, 'its content does not match its hash (the line was edited)');
    firstKid ??= p.kid;
    if (key) {
      if (p.kid === null)
        throw new Broken(n, `it carries no MAC: it was not written by a daemon holding the key (id ${key.id}); the log is unkeyed, or was rewritten or extended by someone without the key`);
      if (p.kid !== key.id) throw new Broken(n, `it was written under key id ${p.kid}, not under the given key (id ${key.id}): the wrong key, or a log from before a key change`);
      if (!lineMacValid(key, p.hash, p.mac)) throw new Broken(n, `its MAC does not verify under the key (id ${key.id}): the line was forged, or rewritten by someone without the key`);
    } else if (p.kid !== firstKid) {
      throw new Broken(
        n,
        p.kid === null
          ? `it carries no MAC while line 1 is keyed (key id ${firstKid}): it was added or rewritten by someone without the key`
          : firstKid === null
            ? `it is keyed (key id ${p.kid}) while line 1 is not: the log mixes keyed and unkeyed lines, which no trl daemon writes`
            : `it is keyed with key id ${p.kid} while line 1 has key id ${firstKid}: no trl daemon switches keys within one log`,
      );
    }
    if (p.kid !== null) keyIds.add(p.kid);
    prev = p.hash;
    hashes.push(prev);
  }
}

function describeHead(h: GivenHead): string {
  if (h.source === 'pinned') return 'the pinned head';
  return `the head in ${h.path ?? 'the head file'}`;
}

function checkHead(h: GivenHead, hashes: string[], keyIds: Set<string>, key: AuditKey | null): NonNullable<VerifyResult['headChecked']> {
  const what = describeHead(h);
  const n = hashes.length;
  if (h.lines > n) throw new Broken(n + 1, `missing: the log ends at line ${n} but ${what} says it has ${h.lines} lines (the tail was cut)`);
  const at = Math.max(h.lines, 1);
  const hashAt = h.lines === 0 ? GENESIS : hashes[h.lines - 1];
  if (hashAt !== h.hash) throw new Broken(at, `its hash is not the one ${what} records for line ${h.lines} (the log was rewritten, or the head belongs to another log)`);
  // A head the daemon wrote is keyed exactly like its log; a pinned HASH:LINES carries no MAC and is trusted as given.
  const logKid = [...keyIds][0];
  let authenticated = false;
  if (h.kid !== undefined) {
    if (logKid !== undefined && h.kid !== logKid) throw new Broken(at, `${what} carries key id ${h.kid} but the log key id ${logKid}: it belongs to another log`);
    if (key) {
      if (!headMacValid(h, key)) throw new Broken(at, `${what} does not verify under the key (id ${key.id}): it was forged`);
      authenticated = true;
    }
  } else if (h.source === 'sidecar') {
    const why = logKid !== undefined ? `the log is keyed (key id ${logKid})` : key ? `a key was given (id ${key.id})` : null;
    if (why !== null) throw new Broken(at, `${what} carries no MAC although ${why}: it was not written by a daemon holding the key (replaced to hide a cut tail?)`);
  }
  return { source: h.source, path: h.path, lines: h.lines, authenticated, linesAfter: n - h.lines };
}

function notChecked(key: AuditKey | null, keyIds: Set<string>, head: GivenHead | null, headAuthenticated: boolean): string[] {
  const out: string[] = [];
  if (!key) {
    out.push(
      keyIds.size > 0
        ? `authenticity: no key given (the log is keyed, key id ${[...keyIds].join(', ')}), so a rewrite by someone with write access is not detected; give the key (TRL_AUDIT_KEY or --key-file)`
        : 'authenticity: the log has no key, so a rewrite by someone with write access to it is not detectable (see the audit key in docs/security.md)',
    );
  }
  if (!head) out.push('truncation: no head given, so a cut tail is not detectable (pin heads with `trl audit head FILE`, then pass --head HASH:LINES)');
  else if (head.source === 'sidecar') {
    out.push(
      `truncation by someone who can also replace ${head.path ?? 'the sidecar head'}${headAuthenticated ? ' with an older head of this log' : ''}: compare with a head pinned elsewhere (--head)`,
    );
  }
  return out;
}
