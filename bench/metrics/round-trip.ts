import { release } from 'node:os';
import { migrationCost } from '../../src/tiers/host/cgroup-migrations.js';
import { readMounts } from '../../src/tiers/host/cgroups.js';
import { SH_TRUE } from '../lib/baseline.js';
import { compareSamplers, timed, type Sampler } from '../lib/interleave.js';
import { startLeanSpawner } from '../lib/lean-spawner.js';
import { sleep } from '../lib/proc.js';
import { makeRow } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import { openHostSession } from './host-session.js';
import type { MetricContext, MetricResult } from './metric.js';

/** How long the machine is left idle before each after-idle sample: an agent's commands come seconds apart. */
const IDLE_MS = 100;
const IDLE_PAIRS = 40;

/**
 * What a command costs when it follows an idle moment, as an agent's do (the
 * back-to-back loop above never shows it): `n` pairs, each side after
 * IDLE_MS of quiet, the order alternating. Without favordynmods the kernel
 * makes the first cgroup migration after a quiet moment wait for an RCU grace
 * period (src/tiers/host/cgroup-migrations.ts); the bare spawn joins no cgroup.
 */
async function afterIdlePairs(n: number, trlSide: () => Promise<void>, bare: Sampler): Promise<{ trl: ReturnType<typeof summarize>; baseline: ReturnType<typeof summarize> }> {
  const trl: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const side of i % 2 === 0 ? (['trl', 'baseline'] as const) : (['baseline', 'trl'] as const)) {
      await sleep(IDLE_MS);
      if (side === 'trl') trl.push(await timed(trlSide));
      else baseline.push(await bare());
    }
  }
  return { trl: summarize(trl), baseline: summarize(baseline) };
}

/**
 * exec.run of `true` on the host tier, sequential, vs a bare spawn of
 * `/bin/sh -c true` from a small process of its own (lean-spawner.ts); then
 * the same after idle moments.
 */
export async function measureRoundTrip(ctx: MetricContext): Promise<MetricResult> {
  const { iterations, warmup, blockSize } = ctx.options;
  const session = await openHostSession(ctx.socketPath);
  const lean = await startLeanSpawner();
  try {
    const bare = lean.sampler(SH_TRUE);
    const samples = await compareSamplers({ n: iterations, warmup, blockSize }, () => timed(() => session.runTrue()), bare);
    const trl = summarize(samples.trl);
    const baseline = summarize(samples.baseline);
    const afterIdle = await afterIdlePairs(ctx.options.quick ? 10 : IDLE_PAIRS, () => session.runTrue(), bare);
    const migrations = migrationCost(readMounts(), release());
    console.error(
      `bench: cgroup mounts here: ${migrations.fast ? `favordynmods on ${migrations.mount}` : `no favordynmods (a migration after idle waits for an RCU grace period unless the kernel kept the mode from an earlier remount; fix: ${migrations.fix})`}`,
    );
    return {
      rows: [
        makeRow('exec.run `true` round trip p50', 'ms', { kind: 'ratio-max', limit: 1.3 }, trl.p50, baseline.p50),
        makeRow('exec.run `true` round trip p99', 'ms', { kind: 'ratio-max', limit: 2 }, trl.p99, baseline.p99),
        makeRow(`exec.run \`true\` after ${IDLE_MS} ms idle p50`, 'ms', { kind: 'ratio-max', limit: 1.3 }, afterIdle.trl.p50, afterIdle.baseline.p50),
      ],
      data: {
        unit: 'ms',
        iterations,
        warmup,
        block_size: blockSize,
        trl,
        baseline,
        after_idle: { idle_ms: IDLE_MS, ...afterIdle, cgroup_favordynmods: migrations.fast },
      },
    };
  } finally {
    await lean.stop();
    await session.close();
  }
}
