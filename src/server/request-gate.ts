/**
 * Per-connection back-pressure for pipelined requests: a client that sends
 * requests and never reads the answers must not grow the daemon. A connection's
 * requests are read only while its unsent output is under a bound and its
 * unanswered requests are few enough; past either, the transport stops reading
 * and the client's further requests wait in the kernel's socket buffer (its
 * problem, not the daemon's). Nothing is refused, and an answer, however big,
 * is always sent whole: the bound is about reading more, not writing less.
 */

const MiB = 1024 * 1024;

/**
 * Unsent bytes at which a connection stops being read: a few of the largest
 * exec.output pages (1 MiB, more once escaped or in base64). Above the streams'
 * own mark (1 MiB, where they pause and later report a gap) so that a stream
 * keeping its connection busy does not also keep it from being read.
 */
export const MAX_UNSENT_BYTES = 4 * MiB;
/** Reading resumes once the unsent bytes are back under this (hysteresis: no flapping at the mark). */
export const RESUME_UNSENT_BYTES = 2 * MiB;
/**
 * Requests read but not answered yet (long-polls such as exec.output wait_ms or
 * exec.wait, open streams) per connection. Past it no more are read until one
 * is answered; each holds a little memory, so the count is what is bounded.
 */
export const MAX_IN_FLIGHT = 256;
/**
 * What one turn of the event loop may hand over before the next request waits
 * for the next turn. Quick answers chain within a turn, and when the peer reads
 * fast the kernel takes each write at once, so nothing else would end the
 * chain: it would starve the other connections and keep V8 from collecting the
 * answers' garbage (its incremental collector works between turns).
 */
export const TURN_BYTES = MAX_UNSENT_BYTES;
/** Dispatches per turn, for answers too small for TURN_BYTES to end the chain (pings). */
export const TURN_DISPATCHES = 128;

/** What the gate needs from a transport's connection. */
export interface GatedConnection {
  /** Bytes written to the connection that the peer has not taken yet (and answers made but not yet written, if the transport holds any). */
  unsent(): number;
  /** Stop reading this connection's requests. */
  pause(): void;
  /** Read them again. */
  resume(): void;
}

/**
 * Takes a connection's requests as they are read, dispatches them while the
 * connection is under its bounds, and pauses/resumes its reading. The
 * transport calls `kick()` whenever output has left (write callbacks, drain).
 *
 * An answer's size is only known once it is produced, so requests are
 * dispatched one after the other: the next as soon as the previous one's
 * answer has been handed to the transport (quick answers chain within the same
 * turn of the event loop, up to the turn's budget), or at the next turn if it
 * takes longer (a long-poll): the bounds are checked with every answer
 * already counted.
 */
export class RequestGate<T> {
  private queue: T[] = [];
  private head = 0;
  private inFlight = 0;
  /** The dispatch whose answer the next one waits for (one turn at most). */
  private awaited: Promise<void> | null = null;
  private turnScheduled = false;
  private turnBytes = 0;
  private turnDispatches = 0;
  private overBytes = false;
  private paused = false;
  private closed = false;

  constructor(
    private readonly conn: GatedConnection,
    /** Answer one request; resolves with the bytes handed to the transport once its answer (or its stream's last event) has been. */
    private readonly run: (item: T) => Promise<number>,
    /** Called whenever the gate has nothing queued and nothing in flight. */
    private readonly onIdle: () => void = () => undefined,
  ) {}

  /** A request just read. */
  push(item: T): void {
    if (this.closed) return;
    this.queue.push(item);
    this.drive();
  }

  /** Output left the connection: maybe read again. */
  kick(): void {
    if (this.closed || (!this.paused && this.head === this.queue.length)) return;
    this.drive();
  }

  /** Nothing queued and nothing in flight. */
  get idle(): boolean {
    return this.inFlight === 0 && this.head === this.queue.length;
  }

  /** The connection is not being read (its further requests wait in the kernel). */
  get holding(): boolean {
    return this.paused;
  }

  /** Not read only because enough of its requests wait for their answers: the peer itself may be reading fine. */
  get heldByInFlight(): boolean {
    return this.paused && !this.overBytes && this.inFlight >= MAX_IN_FLIGHT;
  }

  /** The connection is gone: forget what was not dispatched. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
  }

  private blocked(): boolean {
    const unsent = this.conn.unsent();
    if (unsent >= MAX_UNSENT_BYTES) this.overBytes = true;
    else if (unsent < RESUME_UNSENT_BYTES) this.overBytes = false;
    return this.overBytes || this.inFlight >= MAX_IN_FLIGHT;
  }

  private drive(): void {
    if (this.closed) return;
    const turnLeft = this.turnBytes < TURN_BYTES && this.turnDispatches < TURN_DISPATCHES;
    if (this.awaited === null && turnLeft && this.head < this.queue.length && !this.blocked()) {
      const item = this.queue[this.head] as T;
      this.queue[this.head++] = undefined as T;
      this.inFlight++;
      this.turnDispatches++;
      const answered: Promise<void> = this.run(item).then(
        (bytes) => this.settled(answered, bytes),
        () => this.settled(answered, 0),
      );
      this.awaited = answered;
      this.scheduleTurn();
    }
    if (this.head === this.queue.length && this.head > 0) {
      this.queue = [];
      this.head = 0;
    }
    // Read more only once everything read so far is dispatched: the queue never holds more than one read's worth.
    this.setPaused(this.head < this.queue.length || this.blocked());
  }

  /** Whatever was spent or awaited in this turn is cleared at the next one. */
  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => this.nextTurn());
  }

  /** A turn went by: stop waiting for a slow answer and go on with the next request. */
  private nextTurn(): void {
    this.turnScheduled = false;
    this.turnBytes = 0;
    this.turnDispatches = 0;
    this.awaited = null;
    this.drive();
  }

  private settled(answered: Promise<void>, bytes: number): void {
    this.inFlight--;
    // A slow answer lands in a later turn: it counts there (and that turn must end too).
    this.turnBytes += bytes;
    this.scheduleTurn();
    if (this.awaited === answered) this.awaited = null;
    this.drive();
    if (this.idle && !this.closed) this.onIdle();
  }

  private setPaused(paused: boolean): void {
    if (paused === this.paused || this.closed) return;
    this.paused = paused;
    if (paused) this.conn.pause();
    else this.conn.resume();
  }
}
