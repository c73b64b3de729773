/** Ctrl-P then Ctrl-Q (as `docker attach`): leave an attached command running. */
export const DETACH_KEYS_HELP = 'Ctrl-P Ctrl-Q';

const CTRL_P = 0x10;
const CTRL_Q = 0x11;

/**
 * Watches the bytes typed on the local terminal for the detach sequence.
 * A Ctrl-P is held back until the next byte: followed by Ctrl-Q it detaches
 * (neither byte is sent), followed by anything else both are sent.
 */
export class DetachKeys {
  private held = false;

  /** The bytes to forward, and whether the sequence was typed (bytes after it are dropped). */
  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    if (!this.held && !chunk.includes(CTRL_P)) return { forward: chunk, detach: false };
    const out: number[] = [];
    for (const byte of chunk) {
      if (this.held) {
        this.held = false;
        if (byte === CTRL_Q) return { forward: Buffer.from(out), detach: true };
        out.push(CTRL_P);
      }
      if (byte === CTRL_P) this.held = true;
      else out.push(byte);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
