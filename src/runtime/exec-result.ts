import type { Encoding } from '../protocol/common.js';
import type { ExecResult } from '../protocol/exec.js';
import { signalNumber } from '../tiers/shared/signals.js';
import type { Command } from './command.js';
import type { OutputBuffer } from './output-buffer.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Head and tail of a buffer, encoded. base64 is byte-exact. utf8 replaces
 * invalid bytes with U+FFFD (`lossy` then says so) and marks a dropped middle
 * in the text itself, on a line of its own, so that no reader takes the
 * joined head and tail for the whole output.
 */
export function encodeOutput(buf: OutputBuffer, encoding: Encoding): { text: string; lossy: boolean } {
  if (encoding === 'base64') return { text: Buffer.concat([buf.head(), buf.tail()]).toString('base64'), lossy: false };
  const head = decode(buf.head());
  if (buf.dropped === 0) {
    const tail = decode(buf.tail());
    return { text: head.text + tail.text, lossy: head.lossy || tail.lossy };
  }
  const tail = decode(buf.tail());
  return { text: `${head.text}${cutMarker(buf.dropped)}${tail.text}`, lossy: head.lossy || tail.lossy };
}

/** The line that stands for a dropped middle in utf8 output. */
export function cutMarker(dropped: number): string {
  return `\n[trl: ${dropped} bytes of output left out here (max_output_bytes); the exact bytes kept are in base64 encoding]\n`;
}

function decode(bytes: Buffer): { text: string; lossy: boolean } {
  if (bytes.length === 0) return { text: '', lossy: false };
  try {
    return { text: strictUtf8.decode(bytes), lossy: false };
  } catch {
    return { text: bytes.toString('utf8'), lossy: true };
  }
}

/** exit_code: the status, or 128+N when killed by signal N. */
export function exitCodeOf(cmd: Command): number | null {
  if (!cmd.exit) return null;
  if (cmd.exit.signal) return 128 + (signalNumber(cmd.exit.signal) ?? 0);
  return cmd.exit.code;
}

export function execResult(cmd: Command, workingDir: string, encoding: Encoding, withOutput = true): ExecResult {
  const out = withOutput ? encodeOutput(cmd.stdout, encoding) : { text: '', lossy: false };
  const err = withOutput ? encodeOutput(cmd.stderr, encoding) : { text: '', lossy: false };
  return {
    command_id: cmd.id,
    stdout: out.text,
    stderr: err.text,
    encoding,
    exit_code: exitCodeOf(cmd),
    signal: cmd.exit?.signal ?? null,
    duration_ms: Math.round(cmd.durationMs),
    timed_out: cmd.killReason === 'timeout' || cmd.killReason === 'idle_timeout',
    idle_timed_out: cmd.killReason === 'idle_timeout',
    oom_killed: cmd.oomKilled,
    stdout_truncated_bytes: cmd.stdout.dropped,
    stderr_truncated_bytes: cmd.stderr.dropped,
    stdout_invalid_utf8: out.lossy,
    stderr_invalid_utf8: err.lossy,
    stdout_bytes: cmd.stdout.total,
    stderr_bytes: cmd.stderr.total,
    working_dir: workingDir,
    running: cmd.running,
  };
}
