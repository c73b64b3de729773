import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import { AUDIT_KEY_ENV, AuditKeyError, loadAuditKey } from '../runtime/audit-key.js';
import { formatPin } from '../runtime/audit-head.js';
import { AuditLog, AuditRefusal } from '../runtime/audit-log.js';
import { StartupError } from './startup-error.js';
import { errnoCode, errorMessage } from '../tiers/shared/thrown.js';

/**
 * The audit log of `--audit-log`, keyed by `TRL_AUDIT_KEY` or
 * `--audit-key-file` when one is set; null without --audit-log. Every refusal
 * is a StartupError naming the fix. The key variable is removed from `env`
 * once read, so no helper the daemon spawns inherits it.
 */
export function openAuditLog(config: Config, env: NodeJS.ProcessEnv, log: Logger): AuditLog | null {
  let key;
  try {
    key = loadAuditKey(env, config.audit_key_file);
  } catch (err) {
    if (err instanceof AuditKeyError) throw new StartupError(err.message);
    throw err;
  } finally {
    delete env[AUDIT_KEY_ENV];
  }
  if (!config.audit_log) {
    if (key)
      throw new StartupError(
        `an audit key is set (${config.audit_key_file !== undefined ? '--audit-key-file' : AUDIT_KEY_ENV}) but there is no audit log to authenticate; add --audit-log FILE (TRL_AUDIT_LOG), or drop the key`,
      );
    return null;
  }
  let opened;
  try {
    opened = AuditLog.open(config.audit_log, key);
  } catch (err) {
    if (err instanceof AuditRefusal) throw new StartupError(err.message);
    const code = errnoCode(err);
    if (code) throw new StartupError(`cannot open the audit log ${config.audit_log} (${code}: ${errorMessage(err)}); check that its directory exists and is writable by this user`);
    throw err;
  }
  const { audit, notes } = opened;
  for (const note of notes) log.warn({ audit_log: audit.path }, note);
  // The head in the daemon's own log is one more copy of it outside the audit file.
  log.info(
    { audit_log: audit.path, audit_head: formatPin(audit.head()), audit_key_id: audit.keyId },
    audit.keyId ? 'audit log opened, authenticated with the audit key' : 'audit log opened (no audit key: not authenticated)',
  );
  return audit;
}

/** Close the log, leaving its final head in the daemon's log. */
export function closeAuditLog(audit: AuditLog, log: Logger): void {
  audit.close();
  log.info({ audit_log: audit.path, audit_head: formatPin(audit.head()), audit_key_id: audit.keyId }, 'audit log closed');
}
