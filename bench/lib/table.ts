import type { Row } from './row.js';

function num(x: number | null, unit: string): string {
  if (x === null) return '—';
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : x >= 1 ? 2 : 3;
  return `${x.toFixed(digits)} ${unit}`.trim();
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** `| metric | trl | baseline | ratio | budget | ok |` */
export function renderTable(rows: readonly Row[]): string {
  const lines = ['| metric | trl | baseline | ratio | budget | ok |', '|---|---:|---:|---:|---|---|'];
  for (const r of rows) {
    const ok = r.error !== undefined ? `error: ${r.error.split('\n')[0]}` : r.skipped !== undefined ? `skipped: ${r.skipped.split('\n')[0]}` : r.ok ? 'yes' : 'NO';
    const ratio = r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`;
    lines.push(`| ${cell(r.metric)} | ${num(r.trl, r.unit)} | ${num(r.baseline, r.unit)} | ${ratio} | ${cell(r.budget)} | ${cell(ok)} |`);
  }
  return lines.join('\n');
}
