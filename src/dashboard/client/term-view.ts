import { FitAddon } from '@xterm/addon-fit';
import { Terminal, type ITheme } from '@xterm/xterm';

const LIGHT: ITheme = { background: '#ffffff', foreground: '#1b1f24', cursor: '#1b1f24', selectionBackground: '#b6d3ff' };
const DARK: ITheme = { background: '#0d1117', foreground: '#e6edf3', cursor: '#e6edf3', selectionBackground: '#264f78' };
const FONT_SIZE = 13;
const MIN_FONT_SIZE = 7;

/**
 * A PTY command in xterm.js, at the PTY's own size so that it shows exactly
 * what the program drew; the font shrinks (fit addon's measure) when the
 * pane is too small. With a write grant the pane's size is offered to the
 * PTY instead (exec.resize) and keystrokes go to it (exec.input).
 */
export class TermView {
  private term: Terminal | null = null;
  private fit: FitAddon | null = null;
  private size = { cols: 80, rows: 24 };
  private readonly scheme = matchMedia('(prefers-color-scheme: dark)');
  private readonly observer = new ResizeObserver(() => this.layout());

  constructor(
    private readonly host: HTMLElement,
    private readonly writable: boolean,
    private readonly onInput: (data: string) => void,
    private readonly onResize: (cols: number, rows: number) => void,
  ) {
    this.scheme.addEventListener('change', () => {
      if (this.term) this.term.options.theme = this.theme();
    });
    this.observer.observe(host);
  }

  /** A fresh terminal for a command whose PTY is `cols`×`rows`. */
  open(size: { cols: number; rows: number } | null): void {
    this.dispose();
    this.size = size ?? { cols: 80, rows: 24 };
    const term = new Terminal({
      cols: this.size.cols,
      rows: this.size.rows,
      fontSize: FONT_SIZE,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      disableStdin: !this.writable,
      scrollback: 5000,
      convertEol: false,
      theme: this.theme(),
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(this.host);
    if (this.writable) term.onData((d) => this.onInput(d));
    this.term = term;
    this.fit = fit;
    this.layout();
  }

  write(data: string): void {
    this.term?.write(data);
  }

  /** The PTY was resized (the snapshot says so). */
  resized(size: { cols: number; rows: number } | null): void {
    if (!size || !this.term || this.writable) return;
    if (size.cols === this.size.cols && size.rows === this.size.rows) return;
    this.size = size;
    this.term.resize(size.cols, size.rows);
    this.layout();
  }

  focus(): void {
    this.term?.focus();
  }

  dispose(): void {
    this.term?.dispose();
    this.term = null;
    this.fit = null;
    this.host.textContent = '';
  }

  private layout(): void {
    const term = this.term;
    const fit = this.fit;
    if (!term || !fit || this.host.hidden) return;
    if (this.writable) {
      const d = fit.proposeDimensions();
      if (d && d.cols > 0 && d.rows > 0 && (d.cols !== term.cols || d.rows !== term.rows)) {
        fit.fit();
        this.onResize(term.cols, term.rows);
      }
      return;
    }
    // Read-only: keep the PTY's size; shrink the font until it fits the pane.
    let fontSize = FONT_SIZE;
    term.options.fontSize = fontSize;
    for (;;) {
      const d = fit.proposeDimensions();
      if (!d || (d.cols >= this.size.cols && d.rows >= this.size.rows) || fontSize <= MIN_FONT_SIZE) break;
      fontSize--;
      term.options.fontSize = fontSize;
    }
  }

  private theme(): ITheme {
    return this.scheme.matches ? DARK : LIGHT;
  }
}
