/** A budget of docs/benchmarks.md, checked against either the trl/baseline ratio or the trl figure itself. */
export type Budget =
  | { kind: 'ratio-max'; limit: number }
  | { kind: 'ratio-min'; limit: number }
  | { kind: 'value-max'; limit: number; unit: string };

export function describeBudget(b: Budget): string {
  switch (b.kind) {
    case 'ratio-max':
      return `≤ ${b.limit}×`;
    case 'ratio-min':
      return `≥ ${b.limit}×`;
    case 'value-max':
      return `≤ ${b.limit} ${b.unit}`;
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
  }
}
