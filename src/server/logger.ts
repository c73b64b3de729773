import { chmodSync } from 'node:fs';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs on stderr or a file of mode 0600 (stdout stays clean for the CLI's data). Log calls
 * pass env *keys* only; `redact` is a second line of defence for fields that
 * must never be printed even if a caller slips.
 */
export function createLogger(level: string, file?: string): Logger {
  if (file) tightenExisting(file);
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: ['env', '*.env', 'stdin', '*.stdin', 'token', '*.token', 'data', '*.data'], censor: '[REDACTED]' },
    },
    file ? pino.destination({ dest: file, mode: 0o600, mkdir: true, sync: false }) : pino.destination({ fd: 2, sync: false }),
  );
}

/** A log file that already exists is made 0600 too (mode only applies when it is created). */
function tightenExisting(file: string): void {
  try {
    chmodSync(file, 0o600);
  } catch {
    /* not there yet: it is created 0600 */
  }
}
