import { join } from 'node:path';
import { REPO_ROOT } from '../lib/daemon.js';
import { compareSamplers } from '../lib/interleave.js';
import { startLeanSpawner } from '../lib/lean-spawner.js';
import { makeRow } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import type { MetricContext, MetricResult } from './metric.js';

/** The CLI as its shebang starts it (`#!/usr/bin/env node`: no V8 flags, which only the daemon needs). */
const MAIN = join(REPO_ROOT, 'dist', 'trl', 'trl.js');

/**
 * Both sides run with PATH alone: what Node reads at start-up from the bench's
 * environment is paid by both and says nothing of trl. (On the VM of
 * 2026-12-04, NODE_EXTRA_CA_CERTS made every Node process load the system's
 * CA bundle: `node -e 0` took 58 ms with it and 21 ms without.)
 */
const CLEAN_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

/**
 * A whole `trl ping` process (start-up, module loading, one request, exit)
 * against a bare `node -e 0` in the same run: what a CLI call costs beyond
 * starting Node. The budget, 1.4×, is the target of 0.15 s against Node's
 * 0.11 s on an idle machine, as a ratio so that a busy machine slows both
 * sides alike. Samples are spawns, so fewer than the round trips take.
 * Both sides are spawned from the small process of the other baselines
 * (lean-spawner.ts) and timed there: spawned from the bench's own process,
 * each paid that large process's fork, tens of milliseconds that are the
 * bench's and not a shell's, which made the ratio look far better than a
 * user sees it.
 */
export async function measureCliPing(ctx: MetricContext): Promise<MetricResult> {
  const { quick, iterations } = ctx.options;
  const n = quick ? 10 : Math.max(30, Math.round(iterations / 30));
  const warmup = quick ? 2 : 5;
  const lean = await startLeanSpawner();
  let samples: { trl: number[]; baseline: number[] };
  try {
    samples = await compareSamplers(
      { n, warmup, blockSize: Math.max(1, Math.min(10, Math.floor(n / 4))) },
      lean.sampler({ file: process.execPath, args: [MAIN, 'ping', '--socket', ctx.socketPath], opts: { env: CLEAN_ENV } }),
      lean.sampler({ file: process.execPath, args: ['-e', '0'], opts: { env: CLEAN_ENV } }),
    );
  } finally {
    await lean.stop();
  }
  const trl = summarize(samples.trl);
  const baseline = summarize(samples.baseline);
  return {
    rows: [makeRow('`trl ping` CLI process p50 (vs `node -e 0`)', 'ms', { kind: 'ratio-max', limit: 1.4 }, trl.p50, baseline.p50)],
    data: { unit: 'ms', samples: n, warmup, trl, baseline, ratio_p50: trl.p50 / baseline.p50 },
  };
}
