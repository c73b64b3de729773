import { shellQuote } from './output.js';

/**
 * How `trl exec`, `trl start` and `trl shell -c` read the words after `--`
 * (docs/cli.md renders this text).
 */
export const WORD_RULE = `One word is a shell command line, run by the session's shell as it is:
\`trl exec -- 'cd src && make'\`. Several words are run by the session's shell
too, each word quoted as it was given (nothing is split again, globs and \`$\`
are not expanded): \`trl exec -- cd /tmp\`, \`trl exec -- export A=1\` and
\`trl exec -- grep -r 'a b' .\` work as typed, builtins included, and the
session keeps the cwd and exported variables they leave. \`--no-shell\` runs the
words directly as a program and its arguments (no shell, no state kept). For
comparison: \`ssh host a b\` joins the words with spaces and lets the remote
shell split them again; \`docker exec c a b\` runs them as an argv without a
shell.`;

/** The exec.* `command` (or, with noShell, `argv`) for the words after `--`. */
export function commandOfWords(words: string[], noShell = false): { command: string } | { argv: string[] } {
  if (noShell) return { argv: words };
  if (words.length === 1) return { command: words[0] ?? '' };
  return { command: words.map(shellQuote).join(' ') };
}
