import { closeSync, constants, fchmodSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { GENESIS, HEX64 } from './audit-chain.js';
import type { AuditKey } from './audit-key.js';

/**
 * The head of an audit log: how many lines it has and the hash of the last
 * one (GENESIS for none). A head kept outside the log anchors it: a log cut
 * short no longer contains its head. The daemon keeps one in the sidecar
 * `FILE.head` (JSON, MAC'd under the key of a keyed log); operators pin copies
 * elsewhere as `HASH:LINES` (`trl audit head FILE`).
 */
export interface AuditHead {
  lines: number;
  hash: string;
  /** When the daemon wrote it (sidecar only). */
  time?: string | undefined;
  /** Key id and MAC of a head written by a daemon holding a key. */
  kid?: string | undefined;
  mac?: string | undefined;
}

export const headPathOf = (logPath: string): string => `${logPath}.head`;

export const EMPTY_HEAD: AuditHead = { lines: 0, hash: GENESIS };

/** `HASH:LINES`, the form an operator pins. */
export function formatPin(head: AuditHead): string {
  return `${head.hash}:${head.lines}`;
}

function headMacMessage(head: AuditHead): string {
  return `trl-audit-head\n${head.lines}\n${head.hash}\n${head.time ?? ''}`;
}

/** A head stamped now, with the key's id and MAC when there is a key. */
export function stampHead(lines: number, hash: string, key: AuditKey | null): AuditHead {
  const head: AuditHead = { lines, hash, time: new Date().toISOString() };
  if (key) {
    head.kid = key.id;
    head.mac = key.mac(headMacMessage(head));
  }
  return head;
}

export function headMacValid(head: AuditHead, key: AuditKey): boolean {
  return head.kid === key.id && key.verifies(headMacMessage(head), head.mac);
}

/**
 * Parse a head: `HASH:LINES` (a pin) or the JSON of a sidecar. Throws an
 * Error saying what is wrong, never echoing the text.
 */
export function parseHead(text: string): AuditHead {
  const t = text.trim();
  if (!t.startsWith('{')) {
    const m = /^([0-9a-f]{64}):(\d{1,15})$/.exec(t);
    if (!m) throw new Error('not a head: expected HASH:LINES (64 hex digits, a colon, a line count) as `trl audit head FILE` prints it');
    const [, hash = '', lines = ''] = m;
    return { hash, lines: Number(lines) };
  }
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(t) as Record<string, unknown>;
  } catch {
    throw new Error('not a head: invalid JSON');
  }
  const { lines, hash, time, kid, mac } = v;
  if (typeof lines !== 'number' || !Number.isSafeInteger(lines) || lines < 0 || typeof hash !== 'string' || !HEX64.test(hash)) {
    throw new Error('not a head: it needs "lines" (a count) and "hash" (64 hex digits)');
  }
  const opt = (x: unknown) => (typeof x === 'string' ? x : undefined);
  if ((kid !== undefined || mac !== undefined) && (typeof kid !== 'string' || typeof mac !== 'string')) throw new Error('not a head: "kid" and "mac" go together');
  return { lines, hash, time: opt(time), kid: opt(kid), mac: opt(mac) };
}

/** Every head record has this size, so each update overwrites the previous one whole. */
const HEAD_RECORD_BYTES = 256;

/**
 * The sidecar head, kept open and overwritten in place with one fixed-size
 * write per update. In place, not renamed over: the file keeps its inode, so a
 * sandbox that had it hidden (an empty file mounted on it) keeps it hidden;
 * and a record smaller than a disk sector is written whole or not at all.
 */
export class HeadFile {
  private readonly fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    fchmodSync(this.fd, 0o600);
    ftruncateSync(this.fd, HEAD_RECORD_BYTES);
  }

  write(head: AuditHead): void {
    const json = JSON.stringify(head);
    if (Buffer.byteLength(json) >= HEAD_RECORD_BYTES) throw new Error(`an audit head of ${Buffer.byteLength(json)} bytes does not fit its ${HEAD_RECORD_BYTES}-byte record`);
    // Padding, not truncation: a shorter record must not leave the end of a longer one behind.
    const record = Buffer.alloc(HEAD_RECORD_BYTES, ' ');
    record.write(json, 0, 'utf8');
    record[HEAD_RECORD_BYTES - 1] = 0x0a;
    writeSync(this.fd, record, 0, HEAD_RECORD_BYTES, 0);
  }

  close(): void {
    closeSync(this.fd);
  }
}
