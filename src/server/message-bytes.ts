import { fieldsBesideOutput, OUTPUT_JSON, type OutputJson } from '../runtime/exec-result.js';
import { answerLease } from './answer-buffer.js';
import { attachedBytesOf } from './raw-output.js';

/**
 * One outgoing message's bytes. `done()` once they have been written (the
 * write's callback) or dropped: a large answer's output JSON may be in the
 * daemon's kept answer buffer (answer-buffer.ts), which the next large
 * answer may then use. Until then those bytes must not change.
 */
export interface Outgoing {
  text: string | Buffer[];
  done: () => void;
}

const nothingHeld = (): void => undefined;

/**
 * One outgoing message as its NDJSON line. A result that carries its output
 * as JSON bytes already (OUTPUT_JSON, exec.run and exec.wait of a finished
 * command) is written around them: the small fields go through
 * JSON.stringify, the output bytes are joined in as they are, so a large
 * output is never a JS string on the way out. Everything else is
 * JSON.stringify'd as ever.
 */
export function messageLine(message: unknown): Outgoing {
  // exec.run's raw_output: the line, then the output's bytes as they are (views of the command's buffers).
  const attached = attachedBytesOf(message);
  if (attached !== null) return { text: [Buffer.from(JSON.stringify(message) + '\n'), ...attached], done: nothingHeld };
  const json = outputJsonOf(message);
  if (json === null) return { text: JSON.stringify(message) + '\n', done: nothingHeld };
  return bodyParts(message as { data: Record<string, unknown> }, json, '}}\n');
}

/** The same without the newline (an HTTP body). Parts are written one after the other (never joined: that would be one more copy). */
export function messageBody(message: unknown): Outgoing {
  if (attachedBytesOf(message) !== null) throw new Error('a raw_output answer reached a transport without raw bytes (checkRawOutput lets none through)');
  const json = outputJsonOf(message);
  if (json === null) return { text: JSON.stringify(message), done: nothingHeld };
  return bodyParts(message as { data: Record<string, unknown> }, json, '}}');
}

/** The length in bytes of a line or body made here. */
export function byteLength(text: string | Buffer[]): number {
  if (typeof text === 'string') return Buffer.byteLength(text);
  let n = 0;
  for (const part of text) n += part.length;
  return n;
}

function bodyParts(message: { data: Record<string, unknown> }, json: OutputJson, close: string): Outgoing {
  const head = JSON.stringify({ ...message, data: fieldsBesideOutput(message.data) });
  const lease = answerLease();
  let fields: { stdout: Buffer; stderr: Buffer };
  try {
    fields = json(lease.field);
  } catch (err) {
    lease.release();
    throw err;
  }
  const { stdout, stderr } = fields;
  // `head` ends with the data object's and the message's closing braces: the output fields go in before them.
  return { text: [Buffer.from(head.slice(0, -2) + ',"stdout":'), stdout, Buffer.from(',"stderr":'), stderr, Buffer.from(close)], done: lease.release };
}

function outputJsonOf(message: unknown): OutputJson | null {
  if (typeof message !== 'object' || message === null) return null;
  const data = (message as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) return null;
  const json = (data as { [OUTPUT_JSON]?: unknown })[OUTPUT_JSON];
  return typeof json === 'function' ? (json as OutputJson) : null;
}
