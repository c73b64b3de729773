import { SH_TRUE } from '../lib/baseline.js';
import { startLeanSpawner } from '../lib/lean-spawner.js';
import { startPinger } from '../lib/pinger.js';
import { summarize } from '../lib/stats.js';
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

/** Pause between two pings: a probe of the daemon's responsiveness, not a ninth client. */
const PING_GAP_MS = 10;

/**
 * Commands per second with N concurrent clients (one connection and session
 * each) vs N concurrent bare spawns from a small process of their own
 * (lean-spawner.ts), and the latency of a `system.ping` sent
 * meanwhile by one more client, in a process of its own (trl blocks only;
 * see startPinger).
 */
export async function measureThroughput(ctx: MetricContext): Promise<MetricResult> {
  const { concurrency, throughputSeconds, throughputBlocks } = ctx.options;
  const sessions: HostSession[] = [];
  const ping = await startPinger(ctx.socketPath, PING_GAP_MS);
  const lean = await startLeanSpawner();
  try {
    for (let i = 0; i < concurrency; i++) sessions.push(await openHostSession(ctx.socketPath));
    const trlWorkers = sessions.map((s) => () => s.runTrue());

    const warmupMs = Math.min(500, (throughputSeconds * 1000) / throughputBlocks);
    await runFor(warmupMs, trlWorkers);
    await lean.block(SH_TRUE, concurrency, warmupMs);

    const blockMs = (throughputSeconds * 1000) / throughputBlocks;
    const blocks: Block[] = [];
    for (let i = 0; i < throughputBlocks; i++) {
      const order: Array<'trl' | 'baseline'> = i % 2 === 0 ? ['trl', 'baseline'] : ['baseline', 'trl'];
      for (const side of order) {
        ping.setActive(side === 'trl');
        const r = side === 'trl' ? await runFor(blockMs, trlWorkers) : await lean.block(SH_TRUE, concurrency, blockMs).then((b) => ({ ops: b.ops, elapsedMs: b.ms }));
        ping.setActive(false);
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
    const report = await ping.stop();
    const pings = summarize(report.samples);
    return {
      rows: [
        makeRow(`commands/s, ${concurrency} concurrent clients`, '/s', { kind: 'ratio-min', limit: 0.95 }, trl.per_second, baseline.per_second),
        makeRow(`system.ping p99 under ${concurrency} clients' load`, 'ms', { kind: 'value-max', limit: 20, unit: 'ms' }, pings.p99),
        ...(report.ownLoopDelayP99Ms === null ? [] : [makeRow(`the ping probe's own timer delay p99 under that load (the machine's share)`, 'ms', { kind: 'none' }, report.ownLoopDelayP99Ms)]),
      ],
      data: {
        concurrency,
        seconds_per_side: throughputSeconds,
        blocks_per_side: throughputBlocks,
        trl,
        baseline,
        blocks,
        ping_under_load: { gap_ms: PING_GAP_MS, probe_own_loop_delay_p99_ms: report.ownLoopDelayP99Ms, ...pings },
      },
    };
  } finally {
    await ping.stop();
    await lean.stop();
    await Promise.allSettled(sessions.map((s) => s.close()));
  }
}
