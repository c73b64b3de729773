import type { z } from 'zod';
import type { ConfigKey } from './config-schema.js';

const KIB = 1024;
const UNITS: Array<[number, string]> = [
  [KIB ** 3, 'GiB'],
  [KIB ** 2, 'MiB'],
  [KIB, 'KiB'],
];
const SPANS: Array<[number, string, string]> = [
  [86400, 'day', 'days'],
  [3600, 'h', 'h'],
  [60, 'min', 'min'],
];

/** 4194304 → `4 MiB`; a size that is no whole unit stays in bytes. */
export function humanBytes(n: number): string {
  for (const [size, unit] of UNITS) if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  return `${n} bytes`;
}

/** 3600 → `3600 s (1 h)`: the number a flag takes, and what it amounts to. */
export function humanSeconds(n: number): string {
  for (const [size, one, many] of SPANS) {
    if (n >= size && n % size === 0) return `${n} s (${n / size} ${n === size ? one : many})`;
  }
  return `${n} s`;
}

/**
 * A setting's default as people read it (Markdown: literals in backticks), or
 * undefined when it has none. A default computed at start-up comes from the
 * schema's `default_text`; any other from the schema's own default.
 * `schema`: the setting's, from configSchema().
 */
export function defaultText(key: ConfigKey, schema: z.ZodType): string | undefined {
  const stated = schema.meta()?.default_text;
  if (stated !== undefined) return stated;
  const fallback = schema.safeParse(undefined);
  if (!fallback.success) return undefined;
  const v: unknown = fallback.data;
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return undefined;
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') return /_bytes$/.test(key) ? humanBytes(v) : /_s$/.test(key) ? humanSeconds(v) : String(v);
  if (Array.isArray(v)) return '`' + v.join(',') + '`';
  return '`' + (typeof v === 'string' ? v : JSON.stringify(v)) + '`';
}
