/**
 * Drive interactive terminal programs (the `trl shell` CLI) through a real
 * tmux on a private server (`tmux -L <name>`), so the user's own tmux is never
 * touched. Kill the server in `after` with `killServer()`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { DEADLINE_MS, waitFor } from './wait.js';

/** Null if tmux can run here, else the reason it cannot. */
export function tmuxUnavailable(): string | null {
  const r = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `tmux is not installed (${r.error?.message ?? r.stderr})`;
  return null;
}

/** Quote a word for the shell tmux runs the pane command with. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export class Tmux {
  readonly server: string;

  constructor(server = `trl-test-${process.pid}-${Math.floor(Math.random() * 1e6)}`) {
    this.server = server;
  }

  private run(args: string[], allowFail = false): string {
    const r = spawnSync('tmux', ['-L', this.server, '-f', '/dev/null', ...args], { encoding: 'utf8', env: { ...process.env, TMUX: '' } });
    if (!allowFail && r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed (${String(r.status)}): ${r.stderr}`);
    return r.stdout;
  }

  /** Start a detached session running `argv` in a cols×rows window. */
  newSession(name: string, argv: string[], cols = 120, rows = 40, env: Record<string, string> = {}): void {
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    this.run(['new-session', '-d', '-x', String(cols), '-y', String(rows), '-s', name, ...envArgs, argv.map(shQuote).join(' ')]);
    // keep the pane (and its last screen) when the program exits, so a test can tell exit from crash
    this.run(['set-option', '-t', name, 'remain-on-exit', 'on'], true);
  }

  /** `tmux send-keys -t name …keys` (key names such as Enter, C-p, or literal text). */
  sendKeys(name: string, ...keys: string[]): void {
    this.run(['send-keys', '-t', name, ...keys]);
  }

  /** Literal text (no key-name lookup). */
  sendText(name: string, text: string): void {
    this.run(['send-keys', '-t', name, '-l', text]);
  }

  /** The visible screen (and 200 lines of history) as text. */
  capture(name: string): string {
    return this.run(['capture-pane', '-p', '-J', '-S', '-200', '-t', name], true);
  }

  hasSession(name: string): boolean {
    const r = spawnSync('tmux', ['-L', this.server, 'has-session', '-t', name], { encoding: 'utf8' });
    return r.status === 0;
  }

  /** True once the pane's program has exited (remain-on-exit keeps the pane), or the session is gone. */
  paneDead(name: string): boolean {
    if (!this.hasSession(name)) return true;
    const out = this.run(['display-message', '-p', '-t', name, '#{pane_dead}'], true).trim();
    return out === '1';
  }

  /** Exit status of the pane's program once dead (tmux ≥ 2.x: #{pane_dead_status}). */
  paneDeadStatus(name: string): string {
    return this.run(['display-message', '-p', '-t', name, '#{pane_dead_status}'], true).trim();
  }

  /** Poll the screen until pred(screen) holds; returns the last screen and whether it matched. */
  async waitForScreen(name: string, pred: (screen: string) => boolean): Promise<{ ok: boolean; screen: string }> {
    let screen = '';
    const ok = await waitFor(() => pred((screen = this.capture(name))), DEADLINE_MS, 50);
    return { ok, screen };
  }

  killSession(name: string): void {
    this.run(['kill-session', '-t', name], true);
  }

  killServer(): void {
    try {
      execFileSync('tmux', ['-L', this.server, 'kill-server'], { stdio: 'ignore' });
    } catch {
      /* no server */
    }
  }
}
