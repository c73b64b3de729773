import type { Encoding } from '../protocol/common.js';
import type { Command } from './command.js';
import { utf8CompletePrefix } from './utf8.js';
import { waitForOutput } from './wait-for-output.js';

/** The most one exec.output call returns. */
export const MAX_READ_BYTES = 1024 * 1024;

export interface ReadOutputParams {
  stream?: 'stdout' | 'stderr' | undefined;
  offset?: number | undefined;
  max_bytes?: number | undefined;
  wait_ms?: number | undefined;
  encoding?: Encoding | undefined;
}

/**
 * exec.output: bytes from an absolute offset, optionally waiting for them
 * (long-poll). utf8 pages end on a character boundary, so paging by
 * next_offset never splits a character.
 */
export async function readOutput(cmd: Command, params: ReadOutputParams) {
  const buf = params.stream === 'stderr' ? cmd.stderr : cmd.stdout;
  const offset = params.offset ?? 0;
  const max = Math.min(params.max_bytes ?? MAX_READ_BYTES, MAX_READ_BYTES);
  if (params.wait_ms && offset >= buf.total && cmd.running) await waitForOutput(cmd, buf, offset, params.wait_ms);
  const read = buf.read(offset, max);
  const encoding = params.encoding ?? 'utf8';
  let data = read.data;
  const complete = !cmd.running;
  if (encoding === 'utf8' && !(complete && read.offset + data.length >= buf.total)) data = data.subarray(0, utf8CompletePrefix(data));
  const next = read.offset + data.length;
  return {
    data: data.toString(encoding),
    encoding,
    offset: read.offset,
    next_offset: next,
    eof: complete && next >= buf.total,
    dropped_bytes: read.skipped,
  };
}
