import { base64Into, base64Length } from './base64-into.js';

/**
 * A base64 data event as the bytes of its NDJSON line, built without a JSON
 * encoder and without the line or its data ever being a JS string: the
 * base64 text is ASCII and needs no escaping, so the line is its ASCII head,
 * the base64 text encoded straight into the buffer (base64-into.ts), and its
 * tail. This is the hot path of a large stream: one buffer per event.
 */
export function base64EventLine(streamId: string, stream: 'stdout' | 'stderr', data: Buffer, offset: number): Buffer {
  const head = `{"stream_id":"${streamId}","event":"${stream}","data":"`;
  const tail = `","offset":${offset}}\n`;
  const line = Buffer.allocUnsafe(head.length + base64Length(data.length) + tail.length);
  let at = line.write(head, 0, 'latin1');
  at = base64Into(data, line, at);
  line.write(tail, at, 'latin1');
  return line;
}
