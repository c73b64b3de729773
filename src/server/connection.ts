import type { RawSink } from './raw-pump.js';

/** What a transport offers a stream: write events, back-pressure, closing. Nothing here knows the transport. */
export interface Connection {
  /**
   * Turn the connection into one raw byte stream (exec.pipe) after the answer
   * now being made; a string says why it cannot (another transport, other
   * requests on it). Absent: this transport has no raw mode.
   */
  openRaw?(): RawSink | string;
  /** The transport can carry raw bytes after a message's line (a byte stream: the Unix socket, stdio), as `raw_output` asks. */
  readonly attachesBytes?: boolean;
  send(message: unknown): void;
  /** One complete, already-encoded message line (ending in a newline); a Buffer holds its UTF-8 bytes (no re-encoding on the way out). */
  sendLine(line: string | Buffer): void;
  /** False while the transport's outgoing buffer is over its high-water mark. */
  writable(): boolean;
  /** Call once when the outgoing buffer has drained (or at once if it is not full). */
  onDrain(fn: () => void): void;
  /** Call when the connection closes; returns the unsubscribe. */
  onClose(fn: () => void): () => void;
  readonly closed: boolean;
}
