import { TAG_VAR } from '../backends/process-table.js';
import { shellQuote } from '../backends/shell-quote.js';
import { parseExportP } from './export-parser.js';

/**
 * Persistent cwd and env without a long-lived shell (DESIGN §2): each command
 * runs in a fresh `<shell> -c <script>`. The script installs an EXIT trap that
 * writes the shell's final cwd and `export -p` (less the per-command tracking tag, so that
 * an unchanged state reads the same every time) to fd 3, then evals the user's
 * command with fd 3 closed — the shell keeps its own close-on-exec copy, so no
 * process the user starts can see or write the state pipe, and `exit N` or
 * `set -e` still run the trap. A shell killed by a signal runs no trap, so a
 * killed command changes nothing. The state travels through a pipe only: it
 * never touches disk.
 */
export const STATE_FD = 3;

export function captureScript(command: string): string {
  return (
    `trap 'pwd >&${STATE_FD}; printf "\\0" >&${STATE_FD}; unset ${TAG_VAR}; export -p >&${STATE_FD}' EXIT\n` +
    `eval ${shellQuote(command)} ${STATE_FD}>&-\n`
  );
}

export interface CapturedState {
  cwd: string;
  env: Map<string, string>;
}

/** Parse what the trap wrote; null when the shell did not get to write it (exec'd away, trap replaced, killed). */
export function parseCapturedState(raw: Buffer): CapturedState | null {
  const nul = raw.indexOf(0);
  if (nul < 0) return null;
  let cwd = raw.subarray(0, nul).toString('utf8');
  if (cwd.endsWith('\n')) cwd = cwd.slice(0, -1);
  if (!cwd.startsWith('/')) return null;
  const env = parseExportP(raw.subarray(nul + 1));
  if (env === null) return null;
  return { cwd, env };
}
