import { TrlError } from '../protocol/errors.js';
import type { ExecResult } from '../protocol/exec.js';
import { fieldsBesideOutput, outputBytes } from '../runtime/exec-result.js';
import type { Connection } from './connection.js';

/** On a result answered with `raw_output`: the bytes that follow its line (stdout's, then stderr's). */
export const ATTACHED_BYTES = Symbol('trl.attachedBytes');

const RAW_OUTPUT_ELSEWHERE =
  '`raw_output` puts the output as raw bytes after the answer, which needs a byte stream: use it on the Unix socket or stdio (trl rpc); over HTTP or a WebSocket leave it out, or read the raw bytes with GET /v1/sessions/{session_id}/commands/{command_id}/output';

/** Refuse `raw_output` before anything runs on a transport that cannot carry it. */
export function checkRawOutput(wanted: boolean | undefined, conn: Connection): void {
  if (wanted && !conn.attachesBytes) throw new TrlError('INVALID_PARAMS', RAW_OUTPUT_ELSEWHERE, { field: 'raw_output' });
}

/**
 * The result answered with `raw_output`: `stdout` and `stderr` empty,
 * `raw_output` their lengths, and the bytes themselves (views of the
 * command's buffers) on ATTACHED_BYTES for the transport to write after the
 * line.
 */
export function withRawOutput(result: ExecResult): ExecResult {
  const { stdout, stderr } = outputBytes(result);
  const size = (parts: Buffer[]) => parts.reduce((n, p) => n + p.length, 0);
  const attached = { ...fieldsBesideOutput(result), stdout: '', stderr: '', raw_output: { stdout: size(stdout), stderr: size(stderr) } };
  Object.defineProperty(attached, ATTACHED_BYTES, { value: [...stdout, ...stderr], enumerable: false });
  return attached as ExecResult;
}

/** The bytes to write after a message's line, if it is a result answered with `raw_output`. */
export function attachedBytesOf(message: unknown): Buffer[] | null {
  const data = (message as { data?: unknown } | null)?.data;
  if (typeof data !== 'object' || data === null) return null;
  const parts = (data as { [ATTACHED_BYTES]?: unknown })[ATTACHED_BYTES];
  return Array.isArray(parts) ? (parts as Buffer[]) : null;
}
