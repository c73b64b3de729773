import type { Readable, Writable } from 'node:stream';

const HEADER = 8;
const STDERR = 2;
const EMPTY = Buffer.alloc(0);

/**
 * Where one of an exec's output streams ends: at the random per-command
 * marker the wrapper writes once the program has exited (the exit status
 * comes sooner, through a host pipe; docs/docker-tier.md, "No output is
 * lost"). `push` passes on what lies before the marker, holding back only a
 * tail that could be the marker's start split across chunks.
 */
export class EndMarkerCut {
  private held: Buffer = EMPTY;
  private done = false;

  constructor(private readonly marker: Buffer) {
    if (marker.length < 2) throw new Error('an end marker needs at least 2 bytes');
  }

  /** The bytes of `chunk` (after what was held back) that are output, and whether the marker was reached. */
  push(chunk: Buffer): { out: Buffer; found: boolean } {
    if (this.done) return { out: EMPTY, found: false };
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    const at = data.indexOf(this.marker);
    if (at >= 0) {
      this.done = true;
      this.held = EMPTY;
      return { out: data.subarray(0, at), found: true };
    }
    const keep = this.partialMarkerAtEnd(data);
    // A copy: holding a subarray would keep the whole (possibly large) chunk alive.
    this.held = keep > 0 ? Buffer.from(data.subarray(data.length - keep)) : EMPTY;
    return { out: data.subarray(0, data.length - keep), found: false };
  }

  /** The stream ended without the marker: what was held back is output after all. */
  flush(): Buffer {
    const rest = this.held;
    this.held = EMPTY;
    this.done = true;
    return rest;
  }

  /** The length of the longest tail of `data` that is a proper prefix of the marker. */
  private partialMarkerAtEnd(data: Buffer): number {
    for (let k = Math.min(this.marker.length - 1, data.length); k > 0; k--) {
      const from = data.length - k;
      if (data[from] === this.marker[0] && data.subarray(from).equals(this.marker.subarray(0, k))) return k;
    }
    return 0;
  }
}

/**
 * One output of an exec: the stream the runtime reads, cut at the end marker
 * (when there is one). Tracks whether its writer is full, so the connection
 * can be paused (backpressure) and resumed.
 */
class Sink {
  /** The writer said it is full: the connection waits for its 'drain'. */
  blocked = false;
  ended = false;
  private readonly cut: EndMarkerCut | null;

  constructor(
    private readonly out: Writable,
    marker: Buffer | null,
    private readonly onChange: () => void,
  ) {
    this.cut = marker ? new EndMarkerCut(marker) : null;
    out.on('drain', () => {
      this.blocked = false;
      this.onChange();
    });
  }

  write(chunk: Buffer): void {
    if (this.ended) return; // after the marker: a background process's output
    if (!this.cut) return this.pass(chunk);
    const { out, found } = this.cut.push(chunk);
    if (out.length > 0) this.pass(out);
    if (found) this.end();
  }

  private pass(chunk: Buffer): void {
    if (!this.out.write(chunk)) this.blocked = true;
  }

  /** End the output: at its marker, when the connection ended, or when the daemon stops waiting. */
  end(): void {
    if (this.ended) return;
    const rest = this.cut?.flush();
    if (rest && rest.length > 0) this.out.write(rest);
    this.ended = true;
    // An ended writer emits no 'drain': it must not hold the connection (the other stream's marker) back.
    this.blocked = false;
    this.out.end();
    this.onChange();
  }
}

export interface SplitOutput {
  /** Resolves once both outputs have ended (at their markers, or with the connection). */
  ended: Promise<void>;
  /** Stop waiting: end both outputs now, dropping whatever comes later. */
  endNow(): void;
  /**
   * Resolves once both outputs have ended, or — ending them — once the
   * connection has been quiet for `quietMs`, or `capMs` of unpaused time have
   * passed since the call (a background process that keeps writing). Time the outputs are paused
   * (their reader is behind) counts toward neither: output that is only
   * waiting for its reader is never dropped.
   */
  endWhenQuiet(quietMs: number, capMs: number): Promise<void>;
}

/**
 * Feed an exec's attach connection into stdout and stderr: under a TTY it is
 * one raw stream (stdout; stderr ends at once), otherwise it is multiplexed
 * (frames of an 8-byte header — stream type, three zero bytes, big-endian
 * length — and the payload). Each output ends at the end marker when one is
 * given (EndMarkerCut), or when the connection does.
 *
 * Unlike docker-modem's demuxStream it keeps backpressure: when either output
 * is full (the runtime pauses a stream whose reader is behind) the connection
 * is paused, so the process blocks on its pipe as it would on the host,
 * instead of the daemon buffering without bound.
 */
export function splitOutput(src: Readable, stdout: Writable, stderr: Writable, opts: { tty: boolean; marker: Buffer | null }): SplitOutput {
  let resolveEnded!: () => void;
  const ended = new Promise<void>((r) => (resolveEnded = r));
  let paused = false;
  /** When data last arrived or the outputs last resumed; and the unpaused time up to then (since endWhenQuiet began). */
  let lastFlow = Date.now();
  let flowedMs = 0;
  const onChange = () => {
    if (out.ended && err.ended) resolveEnded();
    const blocked = out.blocked || err.blocked;
    if (blocked !== paused) {
      paused = blocked;
      if (blocked) {
        flowedMs += Date.now() - lastFlow;
        src.pause();
      } else {
        lastFlow = Date.now();
        src.resume();
      }
    }
  };
  const out = new Sink(stdout, opts.marker, onChange);
  // Under a TTY the wrapper writes the marker to the one stream only.
  const err = new Sink(stderr, opts.tty ? null : opts.marker, onChange);
  if (opts.tty) err.end();

  let header = EMPTY;
  let left = 0;
  let target = out;
  src.on('data', (chunk: Buffer) => {
    const now = Date.now();
    flowedMs += now - lastFlow;
    lastFlow = now;
    if (opts.tty) {
      out.write(chunk);
    } else {
      let off = 0;
      while (off < chunk.length) {
        if (left === 0) {
          const need = HEADER - header.length;
          if (chunk.length - off < need) {
            header = Buffer.concat([header, chunk.subarray(off)]);
            break;
          }
          const h = header.length > 0 ? Buffer.concat([header, chunk.subarray(off, off + need)]) : chunk.subarray(off, off + HEADER);
          off += need;
          header = EMPTY;
          left = h.readUInt32BE(4);
          target = h[0] === STDERR ? err : out;
          continue;
        }
        const n = Math.min(left, chunk.length - off);
        target.write(chunk.subarray(off, off + n));
        off += n;
        left -= n;
      }
    }
    onChange();
  });
  const endAll = () => {
    out.end();
    err.end();
  };
  src.once('end', endAll);
  src.once('close', endAll);
  src.once('error', endAll);
  const endWhenQuiet = (quietMs: number, capMs: number): Promise<void> =>
    new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      void ended.then(() => {
        clearTimeout(timer);
        resolve();
      });
      const look = () => {
        if (out.ended && err.ended) return;
        if (paused) {
          timer = setTimeout(look, quietMs);
          return;
        }
        const quiet = Date.now() - lastFlow;
        const wait = Math.min(quietMs - quiet, capMs - flowedMs - quiet);
        if (wait <= 0) {
          endAll();
          resolve();
        } else timer = setTimeout(look, wait);
      };
      // Both clocks start now: before the exit, the command itself was producing.
      lastFlow = Date.now();
      flowedMs = 0;
      look();
    });
  return { ended, endNow: endAll, endWhenQuiet };
}
