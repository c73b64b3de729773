import type { BenchOptions } from '../lib/args.js';
import type { Row } from '../lib/row.js';

export interface MetricContext {
  socketPath: string;
  daemonPid: number;
  options: BenchOptions;
}

export interface MetricResult {
  rows: Row[];
  /** Every figure behind the rows, for the JSON record. */
  data: Record<string, unknown>;
}
