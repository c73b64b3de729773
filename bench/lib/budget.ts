/** A budget of docs/benchmarks.md, checked against either the trl/baseline ratio or the trl figure itself. */
export type Budget =
  | { kind: 'ratio-max'; limit: number }
  | { kind: 'ratio-min'; limit: number }
  | { kind: 'value-max'; limit: number; unit: string }
  /** Reported for the record; DESIGN §8 sets no budget for it. */
  | { kind: 'none' };

export function describeBudget(b: Budget): string {
  switch (b.kind) {
    case 'ratio-max':
      return `≤ ${b.limit}×`;
    case 'ratio-min':
      return `≥ ${b.limit}×`;
    case 'value-max':
      return `≤ ${b.limit} ${b.unit}`;
    case 'none':
      return 'none (reported)';
  }
}

export function withinBudget(b: Budget, value: number, ratio: number | null): boolean {
  switch (b.kind) {
    case 'ratio-max':
      return ratio !== null && ratio <= b.limit;
    case 'ratio-min':
      return ratio !== null && ratio >= b.limit;
    case 'value-max':
      return value <= b.limit;
    case 'none':
      return true;
  }
}
