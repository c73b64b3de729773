import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { TrlError } from '../protocol/errors.js';
import { LineReader } from '../protocol/line-reader.js';
import type { Connection } from './connection.js';
import type { Dispatcher } from './dispatch.js';
import { byteLength, messageLine } from './message-bytes.js';
import type { RawSink } from './raw-pump.js';
import { MAX_IN_FLIGHT, RequestGate } from './request-gate.js';
import { asError } from '../tiers/shared/thrown.js';

/** Above this many unsent bytes a connection counts as full: streams pause and later report a gap. */
export const HIGH_WATER = 1024 * 1024;

/** One NDJSON peer: where requests come from and answers go (a socket is both; stdio is two streams). */
export interface NdjsonEnds {
  input: Readable;
  output: Writable;
  /** The peer is gone (its close event: a socket's 'close', stdin's and stdout's ends). */
  onGone(fn: () => void): () => void;
  readonly gone: boolean;
  /** End the output once everything written has been flushed, then release the peer. */
  finish(last?: string): void;
  /** The peer as a raw byte sink (exec.pipe); absent: this transport has no raw mode. */
  raw?(): RawSink;
}

/**
 * Serve one NDJSON peer (PROTOCOL §1): many pipelined requests, answered as
 * each completes. A bad line is answered and the peer stays connected; only an
 * over-long line ends it. The peer is read only while it is within its bounds
 * (RequestGate). The Unix socket and stdio transports both serve through this.
 */
export function serveNdjson(ends: NdjsonEnds, dispatcher: Dispatcher, maxRequestBytes: number, log: Logger, onClosed: () => void = () => undefined): void {
  const { input, output } = ends;
  // Each open stream listens for 'close' and 'drain': as many as the requests a connection may have in flight.
  output.setMaxListeners(MAX_IN_FLIGHT + 8);
  input.setMaxListeners(MAX_IN_FLIGHT + 8);
  let peerEnded = false;
  // Every write's callback runs as its bytes reach the kernel: the moment to see whether reading may resume.
  const written = () => gate.kick();
  const write = (text: string | Buffer) => {
    if (!ends.gone && output.writable) output.write(text, written);
  };
  const send = (obj: unknown): number => {
    const { text, done } = messageLine(obj);
    if (typeof text === 'string') {
      write(text);
      return text.length;
    }
    if (ends.gone || !output.writable) {
      done();
      return byteLength(text);
    }
    // Parts of one line (a large result's output bytes among them): one writev, no joined copy.
    // The last part's callback runs once the kernel has them all (or the write failed): the bytes may then be reused.
    output.cork();
    text.forEach((part, i) =>
      output.write(
        part,
        i < text.length - 1
          ? written
          : () => {
              done();
              written();
            },
      ),
    );
    output.uncork();
    return byteLength(text);
  };
  // exec.pipe: from its answer on, the peer carries raw bytes only; requests are no longer read.
  let requests = 0;
  let raw = false;
  const makeRaw = ends.raw?.bind(ends);
  const openRaw = makeRaw
    ? (): RawSink | string => {
        if (requests !== 1) return 'exec.pipe turns its connection into raw bytes: send it as the first request of a connection of its own';
        raw = true;
        gate.close();
        return makeRaw();
      }
    : undefined;
  const conn: Connection = {
    ...(openRaw ? { openRaw } : {}),
    attachesBytes: true,
    send,
    sendLine: write,
    writable: () => !ends.gone && output.writableLength < HIGH_WATER,
    onDrain: (fn) => {
      if (output.writableLength < HIGH_WATER) setImmediate(fn);
      else output.once('drain', fn);
    },
    onClose: (fn) => ends.onGone(fn),
    get closed() {
      return ends.gone;
    },
  };
  const finishIfDone = () => {
    if (peerEnded && gate.idle && !ends.gone) ends.finish();
  };
  const gate = new RequestGate<string>(
    { unsent: () => output.writableLength, pause: () => input.pause(), resume: () => input.resume() },
    (line) => {
      requests++;
      return answer(line);
    },
    finishIfDone,
  );
  ends.onGone(() => {
    gate.close();
    onClosed();
  });
  const reader = new LineReader(
    maxRequestBytes,
    (line) => gate.push(line),
    () => {
      const err = new TrlError('REQUEST_TOO_LARGE', `a request line is larger than ${maxRequestBytes} bytes (max_request_bytes); send large data in smaller pieces or files`);
      log.warn({ max_request_bytes: maxRequestBytes }, 'request too large; closing connection');
      gate.close();
      input.pause();
      ends.finish(JSON.stringify({ id: null, ok: false, error: err.toObject() }) + '\n');
    },
  );
  input.on('data', (chunk: Buffer) => {
    // In raw mode what the peer sends is not read as requests (it is read, so that its going away is seen).
    if (!raw) reader.push(chunk);
  });
  input.on('end', () => {
    reader.end();
    peerEnded = true;
    finishIfDone();
  });

  /**
   * One request line, answered to its peer. Resolves with the answer's size
   * once it is written or, for a stream, once its last event is: an open
   * stream is work in flight too (a half-closed peer still gets its events,
   * and a peer cannot open streams without bound).
   */
  async function answer(line: string): Promise<number> {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch (err) {
      return send(dispatcher.badJson(asError(err)));
    }
    const { response, after } = await dispatcher.handle(msg, conn);
    const bytes = send(response);
    if (after) await new Promise<void>((resolve) => after(resolve));
    return bytes;
  }
}
