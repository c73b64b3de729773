import { InvalidArgumentError } from 'commander';
import { ENV_NAME_RE } from '../protocol/names.js';

/**
 * Collector for repeatable `-e K=V`: splits on the first `=` (the value may
 * contain more), rejects a missing `=` or a name a child process cannot
 * receive. A repeated name: the later value wins.
 */
export function collectEnv(pair: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = pair.indexOf('=');
  if (eq < 0) {
    throw new InvalidArgumentError(`expected NAME=VALUE, got '${pair}' (no '='; use NAME= for an empty value)`);
  }
  const name = pair.slice(0, eq);
  if (!ENV_NAME_RE.test(name)) {
    throw new InvalidArgumentError(`'${name}' is not a valid variable name (must match ${ENV_NAME_RE.source})`);
  }
  return { ...previous, [name]: pair.slice(eq + 1) };
}

/** Collector for a repeatable variable name (`--secret-key`, `--unset-env`). */
export function collectVarName(name: string, previous: string[] | undefined): string[] {
  if (!ENV_NAME_RE.test(name)) throw new InvalidArgumentError(`'${name}' is not a variable name (must match ${ENV_NAME_RE.source})`);
  return [...(previous ?? []), name];
}

/** A number of seconds, fractions allowed, 0 = none. */
export function parseSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`expected a number of seconds >= 0, got '${value}'`);
  }
  return n;
}

/** A whole number of seconds, 0 = none. */
export function parseWholeSeconds(value: string): number {
  const n = parseSeconds(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected a whole number of seconds, got '${value}'`);
  return n;
}

/** A byte offset into a command's output: a whole number >= 0. */
export function parseOffset(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`expected a byte offset (a whole number >= 0), got '${value}'`);
  }
  return n;
}
