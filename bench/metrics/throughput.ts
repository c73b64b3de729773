import { spawnTrue } from '../lib/baseline.js';
import { makeRow } from '../lib/row.js';
import { openHostSession, type HostSession } from './host-session.js';
import type { MetricContext, MetricResult } from './metric.js';

interface Block {
  side: 'trl' | 'baseline';
  ops: number;
  elapsed_ms: number;
}

/** Run each worker in a loop until the deadline; the block ends when the last call in flight returns. */
async function runFor(ms: number, workers: ReadonlyArray<() => Promise<void>>): Promise<{ ops: number; elapsedMs: number }> {
  const start = performance.now();
  const deadline = start + ms;
  let ops = 0;
  await Promise.all(
    workers.map(async (work) => {
      while (performance.now() < deadline) {
        await work();
        ops++;
      }
    }),
  );
  return { ops, elapsedMs: performance.now() - start };
}

/** Commands per second with N concurrent clients (one connection and session each) vs N concurrent bare spawns. */
export async function measureThroughput(ctx: MetricContext): Promise<MetricResult> {
  const { concurrency, throughputSeconds, throughputBlocks } = ctx.options;
  const sessions: HostSession[] = [];
  try {
    for (let i = 0; i < concurrency; i++) sessions.push(await openHostSession(ctx.socketPath));
    const trlWorkers = sessions.map((s) => () => s.runTrue());
    const baseWorkers = sessions.map(() => spawnTrue);

    const warmupMs = Math.min(500, (throughputSeconds * 1000) / throughputBlocks);
    await runFor(warmupMs, trlWorkers);
    await runFor(warmupMs, baseWorkers);

    const blockMs = (throughputSeconds * 1000) / throughputBlocks;
    const blocks: Block[] = [];
    for (let i = 0; i < throughputBlocks; i++) {
      const order: Array<'trl' | 'baseline'> = i % 2 === 0 ? ['trl', 'baseline'] : ['baseline', 'trl'];
      for (const side of order) {
        const r = await runFor(blockMs, side === 'trl' ? trlWorkers : baseWorkers);
        blocks.push({ side, ops: r.ops, elapsed_ms: r.elapsedMs });
      }
    }
    const rate = (side: Block['side']) => {
      const mine = blocks.filter((b) => b.side === side);
      const ops = mine.reduce((acc, b) => acc + b.ops, 0);
      const ms = mine.reduce((acc, b) => acc + b.elapsed_ms, 0);
      return { ops, seconds: ms / 1000, per_second: ops / (ms / 1000) };
    };
    const trl = rate('trl');
    const baseline = rate('baseline');
    return {
      rows: [makeRow(`commands/s, ${concurrency} concurrent clients`, '/s', { kind: 'ratio-min', limit: 0.85 }, trl.per_second, baseline.per_second)],
      data: { concurrency, seconds_per_side: throughputSeconds, blocks_per_side: throughputBlocks, trl, baseline, blocks },
    };
  } finally {
    await Promise.allSettled(sessions.map((s) => s.close()));
  }
}
