import { chmodSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
import { prettyLine } from './log-pretty.js';

export type { Logger };

/**
 * Structured logs on stderr or a file of mode 0600 (stdout stays clean for the CLI's data). Log calls
 * pass env *keys* only; `redact` is a second line of defence for fields that
 * must never be printed even if a caller slips. On a terminal (stderr, no
 * file) the same lines are shown readable (log-pretty.ts); else JSON, one per line.
 */
export function createLogger(level: string, file?: string, tty: boolean = !file && process.stderr.isTTY === true): Logger {
  if (file) tightenExisting(file);
  const dest = file ? pino.destination({ dest: file, mode: 0o600, mkdir: true, sync: false }) : pino.destination({ fd: 2, sync: false });
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: ['env', '*.env', 'stdin', '*.stdin', 'token', '*.token', 'data', '*.data'], censor: '[REDACTED]' },
    },
    tty ? readable(dest, process.stderr.hasColors?.() === true && process.env.NO_COLOR === undefined) : dest,
  );
}

/** pino's output (already redacted) reformatted on its way to `dest`. */
function readable(dest: ReturnType<typeof pino.destination>, color: boolean): DestinationStream {
  return {
    write: (line: string) => dest.write(prettyLine(line, color)),
    flush: (cb: (err?: Error) => void) => dest.flush(cb),
  } as DestinationStream;
}

/** A log file that already exists is made 0600 too (mode only applies when it is created). */
function tightenExisting(file: string): void {
  try {
    chmodSync(file, 0o600);
  } catch {
    /* not there yet: it is created 0600 */
  }
}
