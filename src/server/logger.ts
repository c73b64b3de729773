import { fchmodSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import { prettyLine } from './log-pretty.js';
import { StartupError } from './startup-error.js';

export type { Logger };

/**
 * Structured logs on stderr or a file of mode 0600 (stdout stays clean for the CLI's data). Log calls
 * pass env *keys* only; `redact` is a second line of defence for fields that
 * must never be printed even if a caller slips. On a terminal (stderr, no
 * file) the same lines are shown readable (log-pretty.ts); else JSON, one per line.
 * A file that cannot be opened is a StartupError, before anything starts.
 */
export function createLogger(level: string, file?: string, tty: boolean = !file && process.stderr.isTTY === true): Logger {
  const dest = pino.destination({ fd: file ? openLogFile(file) : 2, sync: false });
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

/**
 * The log file, opened for appending (its directory made if missing), mode
 * 0600 whether it was there or not. Opened here, not by pino's writer: that
 * one opens it later, and its failure was an unhandled error that ended the
 * daemon with a page of minified source.
 */
function openLogFile(file: string): number {
  let fd: number;
  try {
    mkdirSync(dirname(file), { recursive: true });
    fd = openSync(file, 'a', 0o600);
  } catch (err) {
    throw new StartupError(
      `cannot open the log file ${file} (${err instanceof Error ? err.message : String(err)}): give --log-file (log_file) a file the daemon's user can create or append to, or leave it out to log on stderr`,
    );
  }
  try {
    fchmodSync(fd, 0o600);
  } catch {
    /* not ours to change (a descriptor given as /dev/fd/N): left as it is */
  }
  return fd;
}
