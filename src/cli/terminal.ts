export interface TerminalSize {
  cols: number;
  rows: number;
}

const DEFAULT_SIZE: TerminalSize = { cols: 80, rows: 24 };

/** The local terminal's size (stdout's, else stderr's), or 80×24 when neither is a terminal. */
export function terminalSize(): TerminalSize {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.isTTY && stream.columns > 0 && stream.rows > 0) {
      return { cols: Math.min(stream.columns, 1000), rows: Math.min(stream.rows, 1000) };
    }
  }
  return { ...DEFAULT_SIZE };
}

/** Whether trl's output goes to a terminal (whose size a remote terminal may take). */
export function hasLocalTerminal(): boolean {
  return process.stdout.isTTY === true || process.stderr.isTTY === true;
}

/** Call `fn` with the new size whenever the local terminal is resized (SIGWINCH); returns the unsubscribe. */
export function onTerminalResize(fn: (size: TerminalSize) => void): () => void {
  const stream = [process.stdout, process.stderr].find((s) => s.isTTY);
  if (!stream) return () => {};
  const listener = () => fn(terminalSize());
  stream.on('resize', listener);
  return () => stream.off('resize', listener);
}

/** `TERM` for a command under a pseudo-terminal: the local one, as ssh and docker pass it on. */
export function remoteTerm(): string {
  const term = process.env['TERM'];
  return term && term !== 'dumb' ? term : 'xterm-256color';
}

/**
 * Raw mode on the local terminal (every key, Ctrl-C included, reaches the
 * remote pseudo-terminal as a byte). The returned function restores the
 * previous mode; it also runs if the process exits without calling it.
 */
export function enterRawMode(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY || stdin.isRaw) return () => {};
  stdin.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.off('exit', restore);
    try {
      stdin.setRawMode(false);
    } catch {
      // The terminal went away (hangup): nothing left to restore.
    }
  };
  process.on('exit', restore);
  return restore;
}
