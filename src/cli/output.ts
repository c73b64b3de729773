import { TrlClientError } from '../client/client-error.js';
import { CliError } from './cli-error.js';

/**
 * The daemon's messages name protocol methods and parameters (they are read
 * by programs too); a person at the CLI is told the command to run instead.
 */
const CLI_WORDS: [RegExp, string][] = [
  [/\bsession\.list\b/g, 'trl session ls'],
  [/\bsession\.create\b/g, 'trl session create'],
  [/\bsession\.destroy\b/g, 'trl session rm'],
  [/\bsession\.update\b/g, 'trl session update'],
  [/\bsession\.info\b/g, 'trl session info'],
  [/\bexec\.start\b/g, 'trl start'],
  [/\bexec\.list\b/g, 'trl ps'],
  [/\bexec\.output\b/g, 'trl logs'],
  [/\bexec\.cancel\b/g, 'trl kill'],
  [/\bexec\.wait\b/g, 'trl logs -f'],
  [/\bexec\.input\b/g, 'trl attach'],
  [/\bstdin_open: true\b/g, 'trl start -i (or -t)'],
  [/\bpass `token`/g, 'set TRL_AUTH_TOKEN'],
  [/\bwith --tiers\b/g, 'with trl serve --tiers'],
];

/** A daemon message in the CLI's terms. */
export function inCliTerms(message: string): string {
  let out = message;
  for (const [re, words] of CLI_WORDS) out = out.replace(re, words);
  return out;
}

/** Print `value` as pretty JSON on stdout (the `--json` mode of every client command). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** One line on stderr, prefixed `trl: `. */
export function warn(message: string): void {
  process.stderr.write(`trl: ${message}\n`);
}

/**
 * Report a failed client call on stderr: `trl: <CODE>: <message>` for a daemon
 * error (plus the bad fields of an INVALID_PARAMS), the message alone for a
 * connection failure (it already says how to fix it).
 */
export function reportError(err: unknown): void {
  if (err instanceof CliError) {
    warn(err.message);
    return;
  }
  if (err instanceof TrlClientError) {
    if (err.code === 'CONNECTION_CLOSED') {
      warn(err.message);
      return;
    }
    warn(`${err.code}: ${inCliTerms(err.message)}`);
    for (const line of detailLines(err.details)) process.stderr.write(`  ${line}\n`);
    return;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  warn(`internal error: ${e.stack ?? e.message}`);
}

/** The `details.issues` of an INVALID_PARAMS error as `path: message` lines, when present and not already in the message. */
function detailLines(details: Record<string, unknown> | undefined): string[] {
  const issues = details?.['issues'];
  if (!Array.isArray(issues) || issues.length < 2) return [];
  const lines: string[] = [];
  for (const issue of issues) {
    if (typeof issue !== 'object' || issue === null) continue;
    const { path, message } = issue as { path?: unknown; message?: unknown };
    if (typeof message !== 'string') continue;
    const where = Array.isArray(path) ? path.join('.') : typeof path === 'string' ? path : '';
    lines.push(where ? `${where}: ${message}` : message);
  }
  return lines;
}

/** Left-aligned columns separated by two spaces; the header row is the first row. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
}

/** `key  value` lines with the values aligned. */
export function formatFields(fields: [string, string][]): string {
  return formatTable(fields.map(([k, v]) => [k, v]));
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function formatDuration(seconds: number): string {
  let s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** Quote a word for a POSIX shell when it needs it (for copy-pasteable hints). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_\-+=.,/:@%]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
