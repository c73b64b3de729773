import { closeSync, existsSync, fchmodSync, openSync, readFileSync, writeSync } from 'node:fs';
import { formatLine } from './audit-chain.js';
import type { AuditKey } from './audit-key.js';
import { HeadFile, headPathOf, parseHead, stampHead, type AuditHead } from './audit-head.js';
import { verifyAudit, type GivenHead } from './audit-verify.js';
import { errorMessage } from '../tiers/shared/thrown.js';

/** Fields of one audit entry; never an env value (command text is redacted by the caller). */
export interface AuditEntry {
  method: string;
  session_id?: string | undefined;
  command_id?: string | undefined;
  command?: string | undefined;
  tier?: string | undefined;
  exit_code?: number | null | undefined;
  signal?: string | null | undefined;
  duration_ms?: number | undefined;
  stdout_bytes?: number | undefined;
  stderr_bytes?: number | undefined;
  env_keys?: string[] | undefined;
  [k: string]: unknown;
}

/** The daemon will not append to this log; the message says why and what to do. */
export class AuditRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditRefusal';
  }
}

/**
 * Append-only audit log (docs/security.md): one JSON line per state-changing call,
 * hash-chained (and MAC'd under the audit key, if any: audit-chain.ts), so
 * that an edited, inserted or deleted line breaks the chain and, with a key, a
 * rewrite cannot be recomputed. After each line the head (line count and last
 * hash) is written to the sidecar `FILE.head`, so a cut tail shows.
 *
 * A restarted daemon continues the existing chain, but only after the whole
 * log verifies under its own key and contains its sidecar head: it refuses to
 * append to a log it cannot vouch for (appending would bless the damage, and
 * the log is evidence), and says how to start a new one.
 */
export class AuditLog {
  private readonly fd: number;
  private readonly headFile: HeadFile;
  private prev: string;
  private count: number;

  private constructor(
    readonly path: string,
    private readonly key: AuditKey | null,
    start: AuditHead,
  ) {
    this.prev = start.hash;
    this.count = start.lines;
    this.fd = openSync(path, 'a', 0o600);
    fchmodSync(this.fd, 0o600);
    this.headFile = new HeadFile(headPathOf(path));
    this.writeHead();
  }

  /** Open (or create) the log; `notes` are warnings for the daemon's log. Throws AuditRefusal. */
  static open(path: string, key: AuditKey | null): { audit: AuditLog; notes: string[] } {
    const { start, notes } = checkExisting(path, key);
    return { audit: new AuditLog(path, key, start), notes };
  }

  /** Id of the key the log is written under, or null. */
  get keyId(): string | null {
    return this.key?.id ?? null;
  }

  head(): AuditHead {
    return { lines: this.count, hash: this.prev };
  }

  write(entry: AuditEntry): void {
    const { line, hash } = formatLine(entry, this.prev, this.key);
    // Synchronous and in order: the chain must not interleave.
    writeSync(this.fd, line);
    this.prev = hash;
    this.count++;
    this.writeHead();
  }

  close(): void {
    closeSync(this.fd);
    this.headFile.close();
  }

  /** After the line it counts: a crash in between leaves the head one line behind, which still verifies. */
  private writeHead(): void {
    this.headFile.write(stampHead(this.count, this.prev, this.key));
  }
}

/** Where an existing log ends, after checking that the daemon may continue it. */
function checkExisting(path: string, key: AuditKey | null): { start: AuditHead; notes: string[] } {
  const headPath = headPathOf(path);
  const aside = `move the log and its head aside (mv ${path} ${path}.old; mv ${headPath} ${headPath}.old) and start again for a new log`;
  let head: GivenHead | null = null;
  if (existsSync(headPath)) {
    try {
      head = { ...parseHead(readFileSync(headPath, 'utf8')), source: 'sidecar', path: headPath };
    } catch (err) {
      throw new AuditRefusal(`the audit head ${headPath} is damaged (${errorMessage(err)}); check the log against a head you pinned (trl audit verify ${path} --head HASH:LINES), then ${aside}`);
    }
  }
  // The head first, then the log: the daemon writes them in the other order, so the log read is never behind the head.
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const r = verifyAudit(text, { key, head });
  if (!r.ok) {
    const where = `the audit log ${path} does not verify${key ? ` under the audit key (id ${key.id})` : ''}: broken at line ${r.brokenLine}: ${r.reason}`;
    // Sound without the key but not with it: the log was written under no key or another one.
    const keyProblem = key !== null && verifyAudit(text, { head }).ok;
    throw new AuditRefusal(
      keyProblem
        ? `${where}. Start the daemon with the key the log was written with; or, if you set or changed the key on purpose, keep the old log (it stays verifiable with its own key) and ${aside}`
        : `${where}. The daemon does not append to a log it cannot vouch for: keep it as evidence (trl audit verify ${path} shows the damage) and ${aside}`,
    );
  }
  if (!key && r.keyIds.length > 0) {
    throw new AuditRefusal(
      `the audit log ${path} is keyed (key id ${r.keyIds.join(', ')}) but the daemon has no audit key: set TRL_AUDIT_KEY or --audit-key-file (TRL_AUDIT_KEY_FILE) to the key it was written with, or ${aside}`,
    );
  }
  const notes: string[] = [];
  if (!head && r.lines > 0) {
    // A keyed daemon always leaves a head: one missing was removed, perhaps to hide a cut tail.
    if (key)
      throw new AuditRefusal(
        `the head ${headPath} of the keyed audit log ${path} is missing, so a cut tail cannot be ruled out; check the log against a head you pinned (trl audit verify ${path} --head HASH:LINES), then ${aside}`,
      );
    notes.push(`the audit log ${path} had no head file (written by an older trl?): ${headPath} is created now; a tail cut before now would not show`);
  }
  return { start: parseHead(r.head), notes };
}
