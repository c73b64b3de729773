import { describeBudget, withinBudget, type Budget } from './budget.js';

/** One line of the result table. */
export interface Row {
  metric: string;
  unit: string;
  trl: number | null;
  baseline: number | null;
  ratio: number | null;
  budget: string;
  ok: boolean | null;
  /** Set when the measurement could not be taken. */
  error?: string;
  /** Set when the tier it needs is unavailable on this machine: why (the tier's health-check detail). */
  skipped?: string;
}

export function makeRow(metric: string, unit: string, budget: Budget, trl: number, baseline: number | null = null): Row {
  const ratio = baseline === null || baseline === 0 ? null : trl / baseline;
  return { metric, unit, trl, baseline, ratio, budget: describeBudget(budget), ok: withinBudget(budget, trl, ratio) };
}

/** A metric that could not be measured: the table shows the error instead of figures. */
export function errorRow(metric: string, error: unknown): Row {
  const message = error instanceof Error ? error.message : String(error);
  return { metric, unit: '', trl: null, baseline: null, ratio: null, budget: '—', ok: null, error: message };
}

/** A metric of a tier that is unavailable here: no figures, the budget it would be held to, and why. */
export function skippedRow(metric: string, unit: string, budget: Budget, why: string): Row {
  return { metric, unit, trl: null, baseline: null, ratio: null, budget: describeBudget(budget), ok: null, skipped: why };
}
