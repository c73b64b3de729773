/**
 * A base64 data event as the bytes of its NDJSON line, built without a JSON
 * encoder and without the line ever being a JS string: the base64 text is
 * ASCII and needs no escaping, so the line is its ASCII head, the base64
 * text written straight into the buffer (latin1: one byte per character, a
 * copy rather than a UTF-8 encode), and its tail. This is the hot path of a
 * large stream: one string (the base64 text) and one buffer per event.
 */
export function base64EventLine(streamId: string, stream: 'stdout' | 'stderr', data: Buffer, offset: number): Buffer {
  const head = `{"stream_id":"${streamId}","event":"${stream}","data":"`;
  const tail = `","offset":${offset}}\n`;
  const text = data.toString('base64');
  const line = Buffer.allocUnsafe(head.length + text.length + tail.length);
  let at = line.write(head, 0, 'latin1');
  at += line.write(text, at, 'latin1');
  line.write(tail, at, 'latin1');
  return line;
}
