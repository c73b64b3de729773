import { createHash } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, openSync, readFileSync, writeSync } from 'node:fs';

export const GENESIS = '0'.repeat(64);

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

/** sha256 over the previous line's hash and this entry's JSON without its own hash. */
export function entryHash(prev: string, body: string): string {
  return createHash('sha256').update(prev).update('\n').update(body).digest('hex');
}

/**
 * Append-only audit log (DESIGN §5): one JSON line per state-changing call,
 * each carrying the previous line's hash and its own, so that an edited,
 * inserted or deleted line breaks the chain (`trl audit verify`). The file is
 * created 0600; a restarted daemon continues the existing chain.
 */
export class AuditLog {
  private readonly fd: number;
  private prev: string;

  constructor(readonly path: string) {
    this.prev = existsSync(path) ? lastHash(readFileSync(path, 'utf8')) : GENESIS;
    this.fd = openSync(path, 'a', 0o600);
    fchmodSync(this.fd, 0o600);
  }

  write(entry: AuditEntry): void {
    const record: Record<string, unknown> = { time: new Date().toISOString(), ...entry, prev: this.prev };
    for (const k of Object.keys(record)) if (record[k] === undefined) delete record[k];
    const body = JSON.stringify(record);
    const hash = entryHash(this.prev, body);
    // Synchronous and in order: the chain must not interleave.
    writeSync(this.fd, `${body.slice(0, -1)},"hash":"${hash}"}\n`);
    this.prev = hash;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function lastHash(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim().length > 0);
  const last = lines[lines.length - 1];
  if (!last) return GENESIS;
  try {
    const h = (JSON.parse(last) as { hash?: unknown }).hash;
    return typeof h === 'string' ? h : GENESIS;
  } catch {
    return GENESIS;
  }
}

export interface VerifyResult {
  ok: boolean;
  lines: number;
  /** 1-based line number of the first line that does not verify. */
  brokenLine?: number;
  reason?: string;
}

/** Check the whole chain; names the first line that was edited, or that follows a deleted or inserted one. */
export function verifyAuditText(text: string): VerifyResult {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let prev = GENESIS;
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(lines[i]!) as Record<string, unknown>;
    } catch {
      return { ok: false, lines: lines.length, brokenLine: n, reason: 'not valid JSON' };
    }
    const { hash, ...rest } = rec;
    if (rest.prev !== prev) {
      return { ok: false, lines: lines.length, brokenLine: n, reason: 'does not follow the previous line (a line before it was deleted, inserted or changed)' };
    }
    if (hash !== entryHash(prev, JSON.stringify(rest))) {
      return { ok: false, lines: lines.length, brokenLine: n, reason: 'its content does not match its hash (the line was edited)' };
    }
    prev = hash as string;
  }
  return { ok: true, lines: lines.length };
}
