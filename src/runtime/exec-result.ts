import type { Encoding } from '../protocol/common.js';
import { MAX_FD3_BYTES, type ExecResult } from '../protocol/exec.js';
import { signalNumber } from '../tiers/shared/signals.js';
import type { Command } from './command.js';
import { jsonStringBytes } from './json-bytes.js';
import type { OutputBuffer } from './output-buffer.js';
import { Redactor } from './redactor.js';
import { isUtf8Parts } from './utf8.js';

/**
 * On a result built by execResult() for a finished command: the JSON of its
 * `stdout` and `stderr` values as bytes, made straight from the output
 * buffers. A transport that finds it writes those bytes instead of encoding
 * the (large) strings: the output is then never decoded into a JS string,
 * escaped as one, and encoded back. Not enumerable, so a copy of the result
 * (`{...result}`) does not carry it and is encoded the ordinary way.
 */
export const OUTPUT_JSON = Symbol('trl.outputJson');
/** An allocator for one field's JSON bytes (see jsonStringBytes). */
export type FieldAlloc = (size: number) => Buffer;
/** `field` gives each of the two fields its allocator; default: new memory. */
export type OutputJson = (field?: () => FieldAlloc) => { stdout: Buffer; stderr: Buffer };
/**
 * Beside OUTPUT_JSON: the same output as the bytes its fields hold (exec.run's
 * `raw_output`), as views of the command's buffers, never copied.
 */
export const OUTPUT_BYTES = Symbol('trl.outputBytes');
/** Each field's value as bytes, in parts: UTF-8 text (utf8), or the bytes the base64 text stands for. */
export interface FieldBytes {
  stdout: Buffer[];
  stderr: Buffer[];
}

/**
 * The retained bytes of one stream, as views of the buffer's blocks (no
 * copy: a finished command's buffers no longer change), and whether they are
 * valid UTF-8: as one text when nothing was dropped (the head may end inside
 * a character the tail finishes), else head and tail each on its own (a
 * dropped middle may cut a character).
 */
class Retained {
  private readonly head: Buffer[];
  private readonly tail: Buffer[];
  readonly dropped: number;
  readonly valid: boolean;

  constructor(buf: OutputBuffer) {
    this.head = [...buf.headViews()];
    this.tail = [...buf.tailViews()];
    this.dropped = buf.dropped;
    this.valid = this.dropped === 0 ? isUtf8Parts([...this.head, ...this.tail]) : isUtf8Parts(this.head) && isUtf8Parts(this.tail);
  }

  text(encoding: Encoding): string {
    if (encoding === 'base64') return this.base64();
    if (this.dropped === 0) return join([...this.head, ...this.tail]).toString('utf8');
    return `${join(this.head).toString('utf8')}${cutMarker(this.dropped)}${join(this.tail).toString('utf8')}`;
  }

  json(encoding: Encoding, alloc: FieldAlloc = (size) => Buffer.allocUnsafe(size)): Buffer {
    if (encoding === 'base64') {
      const text = this.base64();
      const out = alloc(text.length + 2);
      out[0] = out[text.length + 1] = 0x22;
      out.write(text, 1, 'latin1');
      return out;
    }
    if (!this.valid) return Buffer.from(JSON.stringify(this.text(encoding)));
    return jsonStringBytes(this.bytes(encoding), alloc);
  }

  /** The field's value as bytes: what the text decodes from (utf8: the cut marked as in the text), or the kept bytes (base64). */
  bytes(encoding: Encoding): Buffer[] {
    if (encoding === 'base64' || this.dropped === 0) return [...this.head, ...this.tail];
    return [...this.head, Buffer.from(cutMarker(this.dropped)), ...this.tail];
  }

  private base64(): string {
    return join(this.bytes('base64')).toString('base64');
  }
}

function join(parts: Buffer[]): Buffer {
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/**
 * Head and tail of a buffer, encoded. base64 is byte-exact. utf8 replaces
 * invalid bytes with U+FFFD (`lossy` then says so) and marks a dropped middle
 * in the text itself, on a line of its own, so that no reader takes the
 * joined head and tail for the whole output.
 */
export function encodeOutput(buf: OutputBuffer, encoding: Encoding): { text: string; lossy: boolean } {
  const r = new Retained(buf);
  return { text: r.text(encoding), lossy: encoding === 'utf8' && !r.valid };
}

/** The line that stands for a dropped middle in utf8 output. */
export function cutMarker(dropped: number): string {
  return `\n[trl: ${dropped} bytes of output left out here (max_output_bytes); the exact bytes kept are in base64 encoding]\n`;
}

/** exit_code: the status, or 128+N when killed by signal N. */
export function exitCodeOf(cmd: Command): number | null {
  if (!cmd.exit) return null;
  if (cmd.exit.signal) return 128 + (signalNumber(cmd.exit.signal) ?? 0);
  return cmd.exit.code;
}

function fields(cmd: Command, workingDir: string, encoding: Encoding, out: { lossy: boolean }, err: { lossy: boolean }): Omit<ExecResult, 'command_id' | 'stdout' | 'stderr'> {
  return {
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
    ...(cmd.spec.fd3 ? { fd3: fd3Of(cmd) } : {}),
  };
}

/** exec.stream's `fd3`: what the program wrote on fd 3, redacted as its output is; null past MAX_FD3_BYTES. */
function fd3Of(cmd: Command): string | null {
  const raw = cmd.stateRaw;
  if (!raw || raw.length > MAX_FD3_BYTES) return null;
  if (!cmd.spec.redact || cmd.spec.secrets.length === 0) return raw.toString('base64');
  const r = new Redactor(cmd.spec.secrets);
  return Buffer.concat([r.push(raw), r.flush()]).toString('base64');
}

/**
 * A command's result. For a finished command (its buffers no longer change)
 * `stdout` and `stderr` are decoded only when read, and OUTPUT_JSON gives
 * their JSON bytes directly; for a running one (exec.run's yield) they are
 * taken now, as a snapshot consistent with the byte counts.
 */
export function execResult(cmd: Command, workingDir: string, encoding: Encoding, withOutput = true): ExecResult {
  if (!withOutput) return { command_id: cmd.id, stdout: '', stderr: '', ...fields(cmd, workingDir, encoding, { lossy: false }, { lossy: false }) };
  if (cmd.running) {
    const out = encodeOutput(cmd.stdout, encoding);
    const err = encodeOutput(cmd.stderr, encoding);
    return { command_id: cmd.id, stdout: out.text, stderr: err.text, ...fields(cmd, workingDir, encoding, out, err) };
  }
  const out = new Retained(cmd.stdout);
  const err = new Retained(cmd.stderr);
  const lossy = (r: Retained) => ({ lossy: encoding === 'utf8' && !r.valid });
  let stdout: string | undefined;
  let stderr: string | undefined;
  const result: ExecResult = {
    command_id: cmd.id,
    get stdout(): string {
      return (stdout ??= out.text(encoding));
    },
    get stderr(): string {
      return (stderr ??= err.text(encoding));
    },
    ...fields(cmd, workingDir, encoding, lossy(out), lossy(err)),
  };
  const json: OutputJson = (field) => ({ stdout: out.json(encoding, field?.()), stderr: err.json(encoding, field?.()) });
  Object.defineProperty(result, OUTPUT_JSON, { value: json, enumerable: false });
  const bytes = (): FieldBytes => ({ stdout: out.bytes(encoding), stderr: err.bytes(encoding) });
  Object.defineProperty(result, OUTPUT_BYTES, { value: bytes, enumerable: false });
  return result;
}

/**
 * A result's fields other than stdout and stderr, read one by one: spreading
 * the result would read (and so decode) its output too.
 */
export function fieldsBesideOutput(data: object): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(data)) if (key !== 'stdout' && key !== 'stderr') fields[key] = (data as Record<string, unknown>)[key];
  return fields;
}

/**
 * A result's stdout and stderr as the bytes their fields hold, decoded by
 * the reader as the encoding says (see exec.run's `raw_output`): views of a
 * finished command's buffers, or else (a running command's snapshot, a copy
 * a compatibility profile made) the fields' own text as bytes.
 */
export function outputBytes(result: ExecResult): FieldBytes {
  const own = (result as { [OUTPUT_BYTES]?: () => FieldBytes })[OUTPUT_BYTES];
  if (typeof own === 'function') return own();
  const asBytes = (text: string) => [Buffer.from(text, result.encoding)];
  return { stdout: asBytes(result.stdout), stderr: asBytes(result.stderr) };
}
