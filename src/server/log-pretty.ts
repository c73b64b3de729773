/**
 * The daemon's log lines for a person at a terminal: `12:34:56.789 INFO  msg
 * key=value …` instead of JSON. It reformats the lines pino has already
 * written, after redaction, so it can only print what the JSON would have
 * held; logs that are not on a terminal (a file, a pipe, a journal) stay JSON.
 * A few lines of our own rather than pino-pretty: that package and its dozen
 * dependencies would serve this one format.
 */

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '90' },
  20: { name: 'DEBUG', color: '90' },
  30: { name: 'INFO', color: '32' },
  40: { name: 'WARN', color: '33' },
  50: { name: 'ERROR', color: '31' },
  60: { name: 'FATAL', color: '35' },
};

/** Fields every line has, shown in the line's head or not at all (the pid is the daemon's own). */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** One pino JSON line (with its newline) as one human-readable line; anything else unchanged. */
export function prettyLine(line: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof rec !== 'object' || rec === null) return line;
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const level = LEVELS[Number(rec.level)] ?? { name: (typeof rec.level === 'string' || typeof rec.level === 'number' ? String(rec.level) : '?').toUpperCase(), color: '0' };
  const time = typeof rec.time === 'number' ? clock(new Date(rec.time)) : '';
  let out = `${paint('90', time)} ${paint(level.color, level.name.padEnd(5))} ${typeof rec.msg === 'string' ? visible(rec.msg) : ''}`;
  let stack = '';
  for (const [key, value] of Object.entries(rec)) {
    if (HEAD_FIELDS.has(key)) continue;
    if (key === 'err' && isError(value)) {
      out += ` ${paint('90', 'err=')}${word(value.message)}`;
      stack = value.stack
        ? '\n' +
          value.stack
            .split('\n')
            .slice(1)
            .map((l) => `    ${visible(l.trim())}`)
            .join('\n')
        : '';
      continue;
    }
    out += ` ${paint('90', `${key}=`)}${word(value)}`;
  }
  return out + stack + '\n';
}

function isError(v: unknown): v is { message: string; stack?: string } {
  return typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string';
}

/** A value as one word: bare when it is safe to read so, else as JSON. */
function word(value: unknown): string {
  if (typeof value === 'string' && /^[^\s"'=\\\x00-\x1f\x7f]+$/.test(value)) return value;
  return JSON.stringify(value) ?? String(value);
}

/** Control characters escaped: one record stays one line, and nothing logged can drive the terminal. */
function visible(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Local wall-clock time, to the millisecond. */
function clock(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
