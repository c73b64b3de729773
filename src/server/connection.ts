/** What a transport offers a stream: write events, back-pressure, closing. Nothing here knows the transport. */
export interface Connection {
  send(message: unknown): void;
  /** One complete, already-encoded message line (ending in a newline). */
  sendLine(line: string): void;
  /** False while the transport's outgoing buffer is over its high-water mark. */
  writable(): boolean;
  /** Call once when the outgoing buffer has drained (or at once if it is not full). */
  onDrain(fn: () => void): void;
  /** Call when the connection closes; returns the unsubscribe. */
  onClose(fn: () => void): () => void;
  readonly closed: boolean;
}
