import type { AnyTrlClient } from '../client/connect.js';
import type { DetachKeys } from './detach-keys.js';

/** Bytes per exec.input call (base64 makes the request a third larger; far below max_request_bytes). */
const MAX_CALL_BYTES = 1024 * 1024;
/** Stop reading local stdin while this much waits to be sent. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
/**
 * A terminal's end of input is Ctrl-D in cooked mode, but also what a hangup
 * looks like; the SIGHUP that comes with a hangup stops the forwarder within
 * this time, so that a closed window never sends the command an EOF.
 */
const TERMINAL_EOF_DELAY_MS = 250;

export interface ForwarderOptions {
  /** Watch for the detach sequence (only for a local terminal). */
  detachKeys?: DetachKeys;
  onDetach?: () => void;
  /** A call failed (usually because the command ended or closed its stdin); forwarding has stopped. */
  onError?: (err: unknown) => void;
}

/**
 * Sends trl's standard input to a running command with `exec.input`
 * (base64), in order, one call at a time: what arrives while a call is in
 * flight goes in the next one. The end of local stdin closes the command's
 * stdin (`eof: true`), unless it is a terminal hanging up. Stops for good
 * when the command's stdin is closed or a call fails (the command ended; its
 * exit event tells the rest).
 */
export class InputForwarder {
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private eof = false;
  private sending = false;
  private stopped = false;
  private eofTimer: NodeJS.Timeout | undefined;
  private readonly input = process.stdin;

  constructor(
    private readonly client: AnyTrlClient,
    private readonly commandId: string,
    private readonly options: ForwarderOptions = {},
  ) {}

  start(): void {
    this.input.on('data', this.onData);
    this.input.on('end', this.onEnd);
    this.input.resume();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.eofTimer);
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.pause();
    // A paused terminal or pipe no longer keeps the process alive, but an unref makes sure.
    (this.input as { unref?: () => void }).unref?.();
  }

  private readonly onData = (chunk: Buffer | string): void => {
    let bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let detach = false;
    if (this.options.detachKeys) ({ forward: bytes, detach } = this.options.detachKeys.feed(bytes));
    if (bytes.length > 0) {
      this.pending.push(bytes);
      this.pendingBytes += bytes.length;
      if (this.pendingBytes >= HIGH_WATER_BYTES) this.input.pause();
    }
    if (detach) {
      this.stop();
      this.options.onDetach?.();
      return;
    }
    void this.pump();
  };

  private readonly onEnd = (): void => {
    const close = () => {
      this.eof = true;
      void this.pump();
    };
    if (!this.input.isTTY) close();
    // In raw mode Ctrl-D is a byte like any other: the end can only be a hangup.
    else if (!this.input.isRaw) this.eofTimer = setTimeout(close, TERMINAL_EOF_DELAY_MS);
  };

  private async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (!this.stopped && (this.pendingBytes > 0 || this.eof)) {
        const data = this.take();
        const last = this.eof && this.pendingBytes === 0;
        const r = await this.client.call('exec.input', {
          command_id: this.commandId,
          ...(data.length > 0 ? { data: data.toString('base64'), encoding: 'base64' as const } : {}),
          ...(last ? { eof: true } : {}),
        });
        if (last || !r.stdin_open) this.stop();
        else if (this.pendingBytes < HIGH_WATER_BYTES && this.input.isPaused()) this.input.resume();
      }
    } catch (err) {
      // Usually the command ended or closed its stdin: nothing more can be written.
      this.stop();
      this.options.onError?.(err);
    } finally {
      this.sending = false;
    }
  }

  /** Up to MAX_CALL_BYTES of what is pending, in order. */
  private take(): Buffer {
    const all = Buffer.concat(this.pending);
    this.pending.length = 0;
    const head = all.subarray(0, MAX_CALL_BYTES);
    const rest = all.subarray(MAX_CALL_BYTES);
    if (rest.length > 0) this.pending.push(rest);
    this.pendingBytes = rest.length;
    return head;
  }
}
