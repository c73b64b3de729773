import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { inspect } from 'node:util';

/** The variable that holds the audit key. Never a flag: flags show in `ps`. */
export const AUDIT_KEY_ENV = 'TRL_AUDIT_KEY';
export const MIN_AUDIT_KEY_LENGTH = 32;
/** The only MAC trl writes; a line records it as `mac_alg`. */
export const MAC_ALG = 'hmac-sha256';

const HEX64 = /^[0-9a-f]{64}$/;
const HOW_TO_MAKE = '(umask 077; openssl rand -hex 32 > FILE) and give FILE as --audit-key-file (TRL_AUDIT_KEY_FILE)';

/** A refusal about the key; the message says what to do and never holds the key. */
export class AuditKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditKeyError';
  }
}

/**
 * The secret that authenticates an audit log. The key stays in a private
 * field: only its id (a fingerprint: an HMAC of a fixed label, so it reveals
 * nothing of the key) is ever printed, logged or written.
 */
export class AuditKey {
  readonly #key: Buffer;
  /** 16 hex digits naming the key in lines, heads and messages. */
  readonly id: string;

  constructor(secret: string) {
    this.#key = Buffer.from(secret, 'utf8');
    this.id = this.mac('trl-audit-key-id').slice(0, 16);
  }

  /** HMAC-SHA256 of `message` (callers prefix a label per use, so one MAC is never valid as another). */
  mac(message: string): string {
    return createHmac('sha256', this.#key).update(message, 'utf8').digest('hex');
  }

  /** Whether `presented` is the MAC of `message`, compared in constant time. */
  verifies(message: string, presented: unknown): boolean {
    if (typeof presented !== 'string' || !HEX64.test(presented)) return false;
    return timingSafeEqual(Buffer.from(this.mac(message), 'hex'), Buffer.from(presented, 'hex'));
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }

  [inspect.custom](): string {
    return `AuditKey(${this.id})`;
  }
}

/**
 * The audit key from `TRL_AUDIT_KEY` or from a key file, or null when neither
 * is set. A key file holds a secret, so it must be closed to group and others,
 * and for the daemon (`ownFile`) belong to its user, like the .env file; an
 * auditor may verify with a key file of another user (root checking the
 * daemon's log). Throws AuditKeyError naming the fix.
 */
export function loadAuditKey(env: NodeJS.ProcessEnv, keyFile: string | undefined, ownFile = true): AuditKey | null {
  const fromEnv = env[AUDIT_KEY_ENV];
  if (keyFile !== undefined && fromEnv) {
    throw new AuditKeyError(`both ${AUDIT_KEY_ENV} and an audit key file (${resolve(keyFile)}) are set; keep one (unset ${AUDIT_KEY_ENV}, or drop --audit-key-file / TRL_AUDIT_KEY_FILE)`);
  }
  if (keyFile !== undefined) return new AuditKey(readKeyFile(resolve(keyFile), ownFile));
  if (fromEnv === undefined || fromEnv === '') return null;
  checkLength(fromEnv.trim(), AUDIT_KEY_ENV);
  return new AuditKey(fromEnv.trim());
}

function readKeyFile(path: string, ownFile: boolean): string {
  if (!existsSync(path)) throw new AuditKeyError(`audit key file ${path} does not exist; create one: ${HOW_TO_MAKE.replace(/FILE/g, path)}`);
  const st = statSync(path);
  const uid = process.getuid?.() ?? st.uid;
  if (!st.isFile()) throw new AuditKeyError(`audit key file ${path} is not a regular file`);
  if (ownFile && st.uid !== uid) throw new AuditKeyError(`audit key file ${path} belongs to uid ${st.uid}, not to this user; fix it with: chown ${uid} ${path}`);
  if ((st.mode & 0o077) !== 0) {
    throw new AuditKeyError(`audit key file ${path} has mode ${(st.mode & 0o777).toString(8)}: group or others can read the key; fix it with: chmod 600 ${path}`);
  }
  // Surrounding whitespace (the newline `openssl rand` ends with) is not part of the key.
  const key = readFileSync(path, 'utf8').trim();
  checkLength(key, `the audit key file ${path}`);
  return key;
}

function checkLength(key: string, where: string): void {
  if (key.length < MIN_AUDIT_KEY_LENGTH) {
    throw new AuditKeyError(`${where} holds a key of ${key.length} characters; an audit key needs at least ${MIN_AUDIT_KEY_LENGTH}; make one with ${HOW_TO_MAKE}`);
  }
}
