import { spawnTrue } from '../lib/baseline.js';
import { compareRoundTrips } from '../lib/interleave.js';
import { makeRow } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import { openHostSession } from './host-session.js';
import type { MetricContext, MetricResult } from './metric.js';

/** exec.run of `true` on the host tier, sequential, vs a bare spawn of `/bin/sh -c true`. */
export async function measureRoundTrip(ctx: MetricContext): Promise<MetricResult> {
  const { iterations, warmup, blockSize } = ctx.options;
  const session = await openHostSession(ctx.socketPath);
  try {
    const samples = await compareRoundTrips({ n: iterations, warmup, blockSize }, () => session.runTrue(), spawnTrue);
    const trl = summarize(samples.trl);
    const baseline = summarize(samples.baseline);
    return {
      rows: [
        makeRow('exec.run `true` round trip p50', 'ms', { kind: 'ratio-max', limit: 1.3 }, trl.p50, baseline.p50),
        makeRow('exec.run `true` round trip p99', 'ms', { kind: 'ratio-max', limit: 2 }, trl.p99, baseline.p99),
      ],
      data: { unit: 'ms', iterations, warmup, block_size: blockSize, trl, baseline },
    };
  } finally {
    await session.close();
  }
}
