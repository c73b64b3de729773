import { TrlClientError } from '../client/client-error.js';
import type { StreamEvent } from '../protocol/envelope.js';
import type { ErrorObject } from '../protocol/errors.js';
import type { CommandEnd } from './exit-status.js';
import { warn } from './output.js';
import { writeBytes } from './write-bytes.js';

type OutputStream = 'stdout' | 'stderr';

export interface PipeOptions {
  /** Show only this stream (written to trl's stdout); default both, each to its own. */
  only?: OutputStream | undefined;
  /** Sees every chunk before it is written. */
  watch?: ((chunk: Buffer, stream: OutputStream) => void) | undefined;
}

/**
 * Write the output events of an exec.stream / exec.attach stream (opened with
 * `encoding: 'base64'`) as they arrive: exact bytes, stdout to stdout, stderr
 * to stderr. A `gap` is reported on stderr. Resolves with the `exit` event's
 * data; an `error` event rejects with the daemon's error.
 */
export async function pipeEvents(events: AsyncIterable<StreamEvent>, options: PipeOptions = {}): Promise<CommandEnd> {
  for await (const ev of events) {
    switch (ev.event) {
      case 'stdout':
      case 'stderr': {
        if (options.only !== undefined && ev.event !== options.only) break;
        const target = options.only !== undefined || ev.event === 'stdout' ? process.stdout : process.stderr;
        const bytes = Buffer.from(String(ev.data ?? ''), 'base64');
        options.watch?.(bytes, ev.event);
        await writeBytes(target, bytes);
        break;
      }
      case 'gap': {
        const stream = typeof ev['stream'] === 'string' ? ev['stream'] : 'output';
        if (options.only !== undefined && stream !== options.only) break;
        const n = Number(ev['dropped_bytes'] ?? 0);
        warn(`${n} bytes of ${stream} are missing here: the daemon no longer held them (max_output_bytes, or trl fell behind)`);
        break;
      }
      case 'exit':
        return ev.data as CommandEnd;
      case 'error':
        throw new TrlClientError(errorObject(ev.data));
      default:
        break; // an event kind this client does not know: ignore, as the protocol allows growth
    }
  }
  throw new TrlClientError({ code: 'CONNECTION_CLOSED', message: 'the output stream ended without an exit event' });
}

/**
 * The --json form of a stream (opened with `encoding: 'utf8'`): every event
 * as one JSON line on stdout (`only`: drop the other stream's events).
 * Resolves with the exit event's data, or null after an `error` event.
 */
export async function printEventsAsJson(events: AsyncIterable<StreamEvent>, options: PipeOptions = {}): Promise<CommandEnd | null> {
  for await (const ev of events) {
    const stream = ev.event === 'gap' ? ev['stream'] : ev.event;
    if (options.only !== undefined && (stream === 'stdout' || stream === 'stderr') && stream !== options.only) continue;
    await writeBytes(process.stdout, Buffer.from(JSON.stringify(ev) + '\n'));
    if (ev.event === 'exit') return ev.data as CommandEnd;
    if (ev.event === 'error') return null;
  }
  throw new TrlClientError({ code: 'CONNECTION_CLOSED', message: 'the output stream ended without an exit event' });
}

function errorObject(data: unknown): ErrorObject {
  const e = (typeof data === 'object' && data !== null ? data : {}) as Partial<ErrorObject>;
  return {
    code: e.code ?? 'INTERNAL_ERROR',
    message: typeof e.message === 'string' ? e.message : 'the stream failed without an error message',
    ...(e.details !== undefined ? { details: e.details } : {}),
  };
}
