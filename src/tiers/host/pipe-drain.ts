import { readSync } from 'node:fs';
import type { Readable } from 'node:stream';

/** The most one drain takes from a pipe: past a pipe's capacity it is reading a background writer, not the exited process. */
const DRAIN_LIMIT = 4 * 1024 * 1024;
const CHUNK = 64 * 1024;
/** One scratch buffer for every drain (they are synchronous): a command's exit allocates only what it read. */
const scratch = Buffer.allocUnsafe(CHUNK);

/**
 * Take what a pipe holds right now and append it to its stream, in order.
 *
 * Called when a command's main process has exited: every byte it wrote is in
 * the pipe by then (a write to a pipe is complete when it returns), but the
 * event loop may not have read it yet — on a starved machine, not for a long
 * time. Reading it here, synchronously and without blocking (the read end is
 * non-blocking), makes it part of the result whatever the event loop's delay;
 * only what background processes write later is left to the loop. The bytes
 * are pushed behind whatever the stream already holds, so order is kept, and
 * the loop's own later reads come after them.
 */
export function drainPipeNow(stream: Readable | null, fd: number | null | undefined, deliver: (chunk: Buffer) => void = (chunk) => void stream?.push(chunk)): void {
  // A destroyed stream's descriptor is closed, and its number may already be someone else's.
  if (!stream || stream.destroyed || fd === null || fd === undefined) return;
  for (let total = 0; total < DRAIN_LIMIT;) {
    let n: number;
    try {
      n = readSync(fd, scratch, 0, CHUNK, null);
    } catch {
      return; // EAGAIN: empty now
    }
    if (n === 0) return; // end of file: the stream's own read reports it
    deliver(Buffer.from(scratch.subarray(0, n)));
    total += n;
  }
}

/** The descriptor under a stream Node made for a child's stdio (a pipe), when it exposes one. */
export function streamFd(stream: Readable | null | undefined): number | null {
  const fd = (stream as unknown as { _handle?: { fd?: number } } | null | undefined)?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}
