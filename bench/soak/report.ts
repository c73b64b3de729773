import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { round, summarize, type Summary } from '../lib/stats.js';
import type { Sample } from './sampler.js';

export interface SoakSummary {
  requests: number;
  operations: number;
  errors: number;
  refused: number;
  wrong: number;
  lost: number;
  skipped: number;
  leaks: string[];
  rss: { start: number | null; end: number | null; max: number | null };
  fds: { start: number | null; end: number | null; max: number | null };
  latency_ms: Record<string, Summary>;
}

const MB = 1024 * 1024;

export function latencySummaries(latencies: Map<string, number[]>): Record<string, Summary> {
  const out: Record<string, Summary> = {};
  for (const [kind, list] of [...latencies].sort(([a], [b]) => a.localeCompare(b))) {
    const s = summarize(list);
    out[kind] = { n: s.n, min: round(s.min, 3), p50: round(s.p50, 3), p90: round(s.p90, 3), p99: round(s.p99, 3), max: round(s.max, 3), mean: round(s.mean, 3) };
  }
  return out;
}

export function resourceRange(samples: Sample[], pick: (s: Sample) => number | null): { start: number | null; end: number | null; max: number | null } {
  const values = samples.map(pick).filter((v): v is number => v !== null);
  return { start: values[0] ?? null, end: values[values.length - 1] ?? null, max: values.length > 0 ? Math.max(...values) : null };
}

const mb = (x: number | null) => (x === null ? '—' : `${(x / MB).toFixed(1)} MB`);
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function renderSummary(s: SoakSummary, header: string): string {
  const lines = [
    header,
    `requests ${s.requests} (operations ${s.operations}), errors ${s.errors}, wrong results ${s.wrong}, lost results ${s.lost}, refused ${s.refused}, skipped ${s.skipped}`,
    `daemon RSS: start ${mb(s.rss.start)}, end ${mb(s.rss.end)}, max ${mb(s.rss.max)}`,
    `daemon fds: start ${s.fds.start ?? '—'}, end ${s.fds.end ?? '—'}, max ${s.fds.max ?? '—'}`,
    `leaks after the run: ${s.leaks.length === 0 ? 'none' : s.leaks.join('; ')}`,
    '',
    '| operation | n | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const [kind, l] of Object.entries(s.latency_ms)) lines.push(`| ${kind} | ${l.n} | ${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.max)} |`);
  return lines.join('\n');
}

/** bench/results/soak-<timestamp>.json (the main bench's latest.json is left alone). */
export async function writeSoakResults(repoRoot: string, timestamp: string, record: unknown): Promise<string> {
  const dir = join(repoRoot, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `soak-${timestamp.replace(/:/g, '-')}.json`);
  await writeFile(file, JSON.stringify(record, null, 2) + '\n');
  return file;
}
