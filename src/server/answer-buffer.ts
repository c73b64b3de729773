/** Answers' output JSON at least this large goes into the kept buffer; smaller ones are cheap to allocate. */
const MIN_BYTES = 1024 * 1024;
/** The largest buffer kept: what the default output caps (4 MiB per stream) give, escapes included, in practice. */
const MAX_BYTES = 16 * 1024 * 1024;
/** A kept buffer unused this long is let go (the garbage collector frees it). */
const IDLE_MS = 30_000;

/** Buffers for one answer's output JSON; `release()` once the answer's bytes are written or dropped. */
export interface AnswerLease {
  /**
   * An allocator for one field's JSON (stdout, or stderr): a buffer of
   * exactly `size` bytes, asked again with a larger size if the first was too
   * small. The first field to ask for a large one gets the kept buffer, the
   * other one new memory.
   */
  field: () => (size: number) => Buffer;
  release: () => void;
}

/**
 * One buffer kept for the JSON of large answers (exec.run and exec.wait of a
 * command that printed megabytes), reused from one answer to the next.
 * A new buffer of megabytes is fresh memory, which the kernel maps in page
 * by page as it is first written: on a Firecracker VM about 13 ms for
 * 4 MiB, more than escaping the output takes. glibc gives every allocation
 * of that size fresh memory (it maps it apart), so without this each such
 * answer paid it. One answer holds the buffer from its encoding until its
 * bytes have reached the kernel (the transport's write callback); an answer
 * encoded meanwhile gets a buffer of its own, as before. Unused for 30 s,
 * the buffer is dropped. A peer that never reads its answer and stays
 * connected holds the buffer as long: later answers then get new memory,
 * as before there was a kept buffer.
 */
class KeptBuffer {
  private buffer: Buffer | null = null;
  private leased = false;
  private readonly idle: NodeJS.Timeout;

  constructor() {
    this.idle = setTimeout(() => (this.buffer = null), IDLE_MS);
    this.idle.unref();
  }

  lease(): AnswerLease {
    let held = false;
    let released = false;
    return {
      field: () => {
        let mine = false;
        return (size) => {
          if (released || size < MIN_BYTES || size > MAX_BYTES || (this.leased && !mine)) return Buffer.allocUnsafe(size);
          mine = held = this.leased = true;
          // Room for somewhat larger answers to come, within what is kept.
          if (this.buffer === null || this.buffer.length < size) this.buffer = Buffer.allocUnsafeSlow(Math.min(MAX_BYTES, size + (size >> 2)));
          return this.buffer.subarray(0, size);
        };
      },
      release: () => {
        if (released) return;
        released = true;
        if (!held) return;
        this.leased = false;
        this.idle.refresh();
      },
    };
  }
}

let kept: KeptBuffer | null = null;

/** A lease on the daemon's kept answer buffer (see KeptBuffer). */
export function answerLease(): AnswerLease {
  kept ??= new KeptBuffer();
  return kept.lease();
}
