import { InvalidArgumentError } from 'commander';
import type { Limits } from '../protocol/common.js';

/** Powers of 1024, as docker reads `--memory 512m`. */
const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A size: bytes, or a number with K, M, G or T (powers of 1024; `KiB`, `mb`
 * and `512m` are read the same way). Fractions are allowed before a unit.
 */
export function parseSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
  const bytes = m ? Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new InvalidArgumentError(`expected a size such as 512M, 2G or 1048576 (bytes; K, M, G, T are powers of 1024), got '${value}'`);
  }
  return bytes;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number >= 1, got '${value}'`);
  return n;
}

function cores(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number of CPUs > 0 such as 1.5, got '${value}'`);
  // cpu_percent: 100 = one core; two decimals are finer than any cgroup quota.
  return Math.round(n * 10_000) / 100;
}

function percent(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a percentage > 0 (100 = one core), got '${value}'`);
  return n;
}

/** Each `--limit` name: the Limits field it sets and how its value is read. */
const LIMIT_NAMES: Record<string, { key: keyof Limits; parse: (v: string) => number }> = {
  memory: { key: 'memory_bytes', parse: parseSize },
  memory_bytes: { key: 'memory_bytes', parse: parseSize },
  cpus: { key: 'cpu_percent', parse: cores },
  cpu_percent: { key: 'cpu_percent', parse: percent },
  pids: { key: 'pids', parse: positiveInteger },
  cpu_s: { key: 'cpu_s', parse: positiveInteger },
  nofile: { key: 'nofile', parse: positiveInteger },
  output: { key: 'max_output_bytes', parse: parseSize },
  max_output_bytes: { key: 'max_output_bytes', parse: parseSize },
};

/** For the help: what `--limit` takes. */
export const LIMIT_HELP =
  'resource limit NAME=VALUE (repeatable): memory=512M, cpus=1.5 (or cpu_percent=150), pids=100, nofile=1024, cpu_s=60 (CPU seconds per process), output=1M (per-stream output cap); sizes take K, M, G (powers of 1024); each may only lower the daemon maximum';

/** Collector for repeatable `--limit NAME=VALUE`; a repeated name: the later value wins. */
export function collectLimit(pair: string, previous: Limits | undefined): Limits {
  const eq = pair.indexOf('=');
  const name = (eq < 0 ? pair : pair.slice(0, eq)).trim().toLowerCase().replace(/-/g, '_');
  const spec = LIMIT_NAMES[name];
  if (!spec) {
    throw new InvalidArgumentError(`unknown limit '${name}': use one of ${Object.keys(LIMIT_NAMES).join(', ')} (as NAME=VALUE, e.g. memory=512M)`);
  }
  if (eq < 0) throw new InvalidArgumentError(`expected ${name}=VALUE, got '${pair}'`);
  return { ...previous, [spec.key]: spec.parse(pair.slice(eq + 1)) };
}
