import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs on stderr (stdout stays clean for the CLI's data). Log calls
 * pass env *keys* only; `redact` is a second line of defence for fields that
 * must never be printed even if a caller slips.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: ['env', '*.env', 'stdin', '*.stdin', 'token', '*.token'], censor: '[REDACTED]' },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
