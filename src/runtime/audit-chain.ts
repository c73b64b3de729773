import { createHash } from 'node:crypto';
import { MAC_ALG, type AuditKey } from './audit-key.js';

/**
 * The line format of the audit log, shared by the writer and the verifier.
 *
 * A line is the JSON of its record — `time`, the entry's fields, and for a
 * keyed log `mac_alg` and `kid` — ending in `prev` (the previous line's hash),
 * followed by `hash` and, in a keyed log, `mac`:
 * - `hash` = sha256(prev + "\n" + body), body being the line without `hash` and
 *   `mac`: a public chain anyone can check, in which each hash commits to every
 *   line before it;
 * - `mac` = HMAC-SHA256(key, "trl-audit-line\n" + hash): only the key holder can
 *   make one, and since the hash commits to the whole prefix, each MAC
 *   authenticates every line up to its own.
 */
export const GENESIS = '0'.repeat(64);
export const HEX64 = /^[0-9a-f]{64}$/;

/** sha256 over the previous line's hash and this line's JSON without `hash` and `mac`. */
export function entryHash(prev: string, body: string): string {
  return createHash('sha256').update(prev).update('\n').update(body).digest('hex');
}

function lineMacMessage(hash: string): string {
  return `trl-audit-line\n${hash}`;
}

/** The record's JSON, its hash and MAC, as one line (with its newline). */
export function formatLine(record: Record<string, unknown>, prev: string, key: AuditKey | null): { line: string; hash: string } {
  const full: Record<string, unknown> = { time: new Date().toISOString(), ...record };
  // The chain's own fields are the writer's, whatever an entry carries.
  for (const k of ['hash', 'mac', 'mac_alg', 'kid', 'prev']) delete full[k];
  if (key) Object.assign(full, { mac_alg: MAC_ALG, kid: key.id });
  full.prev = prev;
  for (const k of Object.keys(full)) if (full[k] === undefined) delete full[k];
  const body = JSON.stringify(full);
  const hash = entryHash(prev, body);
  const mac = key ? `,"mac":"${key.mac(lineMacMessage(hash))}"` : '';
  return { line: `${body.slice(0, -1)},"hash":"${hash}"${mac}}\n`, hash };
}

/** One line taken apart, or a reason why it is not a line of an audit log. */
export type ParsedLine = ({ ok: true; prev: unknown; hash: unknown; body: string } & ({ kid: string; mac: string } | { kid: null; mac: null })) | { ok: false; reason: string };

export function parseLine(text: string): ParsedLine {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return { ok: false, reason: 'not a JSON object' };
  const { hash, mac, ...rest }: Record<string, unknown> = { ...rec };
  const body = JSON.stringify(rest);
  const kid = rest.kid;
  if (kid === undefined && rest.mac_alg === undefined && mac === undefined) return { ok: true, prev: rest.prev, hash, body, kid: null, mac: null };
  if (typeof kid !== 'string' || rest.mac_alg !== MAC_ALG || typeof mac !== 'string' || !HEX64.test(mac)) {
    return { ok: false, reason: `its key fields are malformed (a keyed line has "mac_alg":"${MAC_ALG}", a "kid" and a 64-hex-digit "mac")` };
  }
  return { ok: true, prev: rest.prev, hash, body, kid, mac };
}

/** Whether `mac` is the key's MAC of the line with this hash. */
export function lineMacValid(key: AuditKey, hash: string, mac: string): boolean {
  return key.verifies(lineMacMessage(hash), mac);
}
