import { join } from 'node:path';
import { spawnBaseline } from '../lib/baseline.js';
import { REPO_ROOT } from '../lib/daemon.js';
import { compareRoundTrips } from '../lib/interleave.js';
import { makeRow } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import type { MetricContext, MetricResult } from './metric.js';

/** The CLI as its shebang starts it (`#!/usr/bin/env node`: no V8 flags, which only the daemon needs). */
const MAIN = join(REPO_ROOT, 'dist', 'trl', 'trl.js');

/**
 * A whole `trl ping` process (start-up, module loading, one request, exit)
 * against a bare `node -e 0` in the same run: what a CLI call costs beyond
 * starting Node. The budget, 1.4×, is the target of 0.15 s against Node's
 * 0.11 s on an idle machine, as a ratio so that a busy machine slows both
 * sides alike. Samples are spawns, so fewer than the round trips take.
 */
export async function measureCliPing(ctx: MetricContext): Promise<MetricResult> {
  const { quick, iterations } = ctx.options;
  const n = quick ? 10 : Math.max(30, Math.round(iterations / 30));
  const warmup = quick ? 2 : 5;
  const samples = await compareRoundTrips(
    { n, warmup, blockSize: Math.max(1, Math.min(10, Math.floor(n / 4))) },
    () => spawnBaseline({ file: process.execPath, args: [MAIN, 'ping', '--socket', ctx.socketPath] }),
    () => spawnBaseline({ file: process.execPath, args: ['-e', '0'] }),
  );
  const trl = summarize(samples.trl);
  const baseline = summarize(samples.baseline);
  return {
    rows: [makeRow('`trl ping` CLI process p50 (vs `node -e 0`)', 'ms', { kind: 'ratio-max', limit: 1.4 }, trl.p50, baseline.p50)],
    data: { unit: 'ms', samples: n, warmup, trl, baseline, ratio_p50: trl.p50 / baseline.p50 },
  };
}
