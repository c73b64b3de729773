import { TrlClient } from '../../src/client/client.js';
import { timed } from '../lib/interleave.js';
import { makeRow } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import type { MetricContext, MetricResult } from './metric.js';

/** session.create on the host tier in a create+destroy loop; only the create is timed. */
export async function measureSessionCreate(ctx: MetricContext): Promise<MetricResult> {
  const { iterations, warmup } = ctx.options;
  const client = await TrlClient.connect({ socketPath: ctx.socketPath });
  try {
    const createMs: number[] = [];
    const destroyMs: number[] = [];
    for (let i = 0; i < warmup + iterations; i++) {
      let sessionId = '';
      const c = await timed(async () => {
        sessionId = (await client.call('session.create', {})).session_id;
      });
      const d = await timed(() => client.call('session.destroy', { session_id: sessionId }));
      if (i >= warmup) {
        createMs.push(c);
        destroyMs.push(d);
      }
    }
    const create = summarize(createMs);
    return {
      rows: [makeRow('session.create p50 (host)', 'ms', { kind: 'value-max', limit: 1, unit: 'ms' }, create.p50)],
      data: { unit: 'ms', iterations, warmup, create, destroy: summarize(destroyMs) },
    };
  } finally {
    client.close();
  }
}
