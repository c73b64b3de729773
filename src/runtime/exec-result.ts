import type { Encoding } from '../protocol/common.js';
import type { ExecResult } from '../protocol/exec.js';
import { signalNumber } from '../tiers/shared/signals.js';
import type { Command } from './command.js';
import type { OutputBuffer } from './output-buffer.js';

/** Head and tail of a buffer, encoded. utf8 replaces invalid bytes with U+FFFD. */
export function encodeOutput(buf: OutputBuffer, encoding: Encoding): string {
  if (encoding === 'base64') return Buffer.concat([buf.head(), buf.tail()]).toString('base64');
  const head = buf.head();
  const tail = buf.tail();
  return tail.length === 0 ? head.toString('utf8') : head.toString('utf8') + tail.toString('utf8');
}

/** exit_code: the status, or 128+N when killed by signal N. */
export function exitCodeOf(cmd: Command): number | null {
  if (!cmd.exit) return null;
  if (cmd.exit.signal) return 128 + (signalNumber(cmd.exit.signal) ?? 0);
  return cmd.exit.code;
}

export function execResult(cmd: Command, workingDir: string, encoding: Encoding, withOutput = true): ExecResult {
  return {
    command_id: cmd.id,
    stdout: withOutput ? encodeOutput(cmd.stdout, encoding) : '',
    stderr: withOutput ? encodeOutput(cmd.stderr, encoding) : '',
    encoding,
    exit_code: exitCodeOf(cmd),
    signal: cmd.exit?.signal ?? null,
    duration_ms: Math.round(cmd.durationMs * 1000) / 1000,
    timed_out: cmd.killReason === 'timeout' || cmd.killReason === 'idle_timeout',
    idle_timed_out: cmd.killReason === 'idle_timeout',
    oom_killed: cmd.oomKilled,
    stdout_truncated_bytes: cmd.stdout.dropped,
    stderr_truncated_bytes: cmd.stderr.dropped,
    stdout_bytes: cmd.stdout.total,
    stderr_bytes: cmd.stderr.total,
    working_dir: workingDir,
    running: cmd.running,
  };
}
