import { randomBytes } from 'node:crypto';

/**
 * The shell's state (cwd and exported env, state-capture.ts) on the inner
 * path. The inner trl has no fd 3 to offer the outer daemon, so a constant
 * wrapper runs the program with fd 3 on a pipe into `od`, and once it has
 * exited writes `<marker><hex of the state and its exit status><marker>\n`
 * on stderr and exits with that status. The marker is 96 random bits per
 * command; the daemon cuts the trailer out of stderr (StateTrailer). The
 * state crosses only pipes and the relay stream, never a disk.
 */
export const STATE_WRAPPER =
  'echo 1000 >/proc/self/oom_score_adj 2>/dev/null; m=$1; shift; exec 4>&1; ' +
  `s=$( { "$@" 3>&1 1>&4 4>&-; printf ' %d' "$?"; } | od -An -v -tx1 4>&- | tr -d ' \\n' 4>&- ); ` +
  `printf '%s%s%s\\n' "$m" "$s" "$m" >&2; ` +
  // The status is the hex digits after the last space (20): ASCII digits are 3X, and no 20 spans two of them.
  `rc=$(printf '%s' "\${s##*20}" | sed 's/3\\(.\\)/\\1/g'); exit "\${rc:-1}"`;

export function newStateMarker(): string {
  return `TRLSTATE${randomBytes(12).toString('hex').toUpperCase()}`;
}

/** The largest state trailer accepted (hex of the cwd and exported env): past it the state is dropped. */
const MAX_TRAILER = 16 * 1024 * 1024;

/**
 * Cuts the state trailer out of a command's stderr: what precedes it and what
 * follows it (a background process's output) is stderr; the trailer itself
 * gives the raw state (what fd 3 would have carried), or null.
 */
export class StateTrailer {
  private readonly marker: string;
  private phase: 'before' | 'inside' | 'after' = 'before';
  /** Before: a tail that could begin the marker; inside: the trailer so far (latin1). */
  private held = '';
  /** The raw state, once the trailer is complete; null: none came (killed, exec'd away). */
  state: Buffer | null = null;
  /** The exit status the wrapper reported, when the trailer came. */
  status: number | null = null;

  constructor(marker: string) {
    this.marker = marker;
  }

  /** The stderr bytes of `chunk`. */
  push(chunk: Buffer): Buffer {
    if (this.phase === 'after') return chunk;
    if (this.phase === 'inside') return this.inside(chunk.toString('latin1'));
    const data = this.held + chunk.toString('latin1');
    const at = data.indexOf(this.marker);
    if (at >= 0) {
      this.held = '';
      this.phase = 'inside';
      return Buffer.concat([Buffer.from(data.slice(0, at), 'latin1'), this.inside(data.slice(at + this.marker.length))]);
    }
    let keep = Math.min(this.marker.length - 1, data.length);
    while (keep > 0 && !this.marker.startsWith(data.slice(data.length - keep))) keep--;
    this.held = data.slice(data.length - keep);
    return Buffer.from(data.slice(0, data.length - keep), 'latin1');
  }

  /** The stream ended: anything held back before the trailer is stderr after all. */
  flush(): Buffer {
    const rest = this.phase === 'before' ? this.held : '';
    this.held = '';
    return Buffer.from(rest, 'latin1');
  }

  private inside(text: string): Buffer {
    this.held += text;
    const end = this.held.indexOf(this.marker);
    if (end < 0) {
      if (this.held.length > MAX_TRAILER) {
        this.phase = 'after';
        this.held = '';
      }
      return Buffer.alloc(0);
    }
    let after = this.held.slice(end + this.marker.length);
    if (after.startsWith('\n')) after = after.slice(1);
    this.decode(this.held.slice(0, end));
    this.held = '';
    this.phase = 'after';
    return Buffer.from(after, 'latin1');
  }
  private decode(hex: string): void {
    if (!/^(?:[0-9a-f]{2})*$/.test(hex)) return;
    const raw = Buffer.from(hex, 'hex');
    const space = raw.lastIndexOf(0x20);
    if (space < 0) return;
    const status = Number(raw.subarray(space + 1).toString('latin1'));
    if (!Number.isInteger(status)) return;
    this.status = status;
    this.state = space > 0 ? raw.subarray(0, space) : null;
  }
}
