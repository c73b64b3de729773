import { warn } from './output.js';

/** Sequences that switch a terminal into modes a program must switch back: the alternate screen, a hidden cursor, application keys, mouse reports, bracketed paste. */
const MODE_SETTERS = /\x1b\[\?(1049|1047|47|25|1|1000|1002|1003|1006|2004)([hl])|\x1b=/g;
/** Putting each mode back (a no-op for a mode that is already so). */
const RESTORE = '\x1b[?1049l\x1b[?25h\x1b[?1l\x1b>\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l';

/**
 * A full-screen program (vim, top, less) run without -t has no terminal of its
 * own: it draws on trl's through the output, and when it is cut short the
 * local terminal is left on the alternate screen, cursor hidden. This watches
 * the output for the modes it sets and, at the end, puts the local terminal
 * back and says how to run such a program.
 */
export class FullScreenGuard {
  private set = new Set<string>();
  /** The last bytes of the previous chunk: a sequence may be split between two. */
  private carry = '';

  readonly watch = (chunk: Buffer, stream: 'stdout' | 'stderr'): void => {
    if (stream !== 'stdout' || !process.stdout.isTTY) return;
    const text = this.carry + chunk.toString('latin1');
    this.carry = text.slice(-8);
    for (const m of text.matchAll(MODE_SETTERS)) {
      const mode = m[1] ?? '=';
      if (m[2] === 'l' && mode !== '25') this.set.delete(mode);
      else if (m[2] === 'h' && mode === '25') this.set.delete(mode);
      else this.set.add(mode);
    }
  };

  /** Put the local terminal back if the program left it in a mode of its own. */
  restore(): void {
    if (this.set.size === 0 || !process.stdout.isTTY) return;
    process.stdout.write(RESTORE);
    warn('the command drew a full screen without a terminal of its own; run such programs with trl exec -t');
    this.set.clear();
  }
}
