import { constants } from 'node:os';
import type { ResultOf } from '../protocol/methods.js';
import { EXIT } from './exit-codes.js';
import { warn } from './output.js';

/**
 * How a command ended: the `exec.run` result, or the `data` of an `exit`
 * event (the same fields without stdout/stderr).
 */
export type CommandEnd = Omit<ResultOf<'exec.run'>, 'stdout' | 'stderr' | 'encoding'>;

/** Say on stderr that a command was killed by its timeout (nothing otherwise). */
export function warnIfTimedOut(end: CommandEnd): void {
  if (end.timed_out) warn(`the command timed out after ${(end.duration_ms / 1000).toFixed(1)}s and was killed`);
  else if (end.idle_timed_out) warn('the command printed nothing for its idle timeout and was killed');
}

/** The command's own status; 124 for a timeout (as coreutils timeout), 125 when the daemon gave none. */
export function exitStatusOf(end: CommandEnd): number {
  if (end.timed_out || end.idle_timed_out) return EXIT.EXEC_TIMED_OUT;
  if (end.exit_code === null || end.exit_code === undefined) {
    warn('the daemon returned no exit status for the command');
    return EXIT.EXEC_TRL_FAILED;
  }
  return end.exit_code;
}

/** 128+N for a signal that made trl stop, as a shell reports it. */
export function signalExitStatus(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
