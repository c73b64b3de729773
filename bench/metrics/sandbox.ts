import { join } from 'node:path';
import { TrlClient } from '../../src/client/client.js';
import type { Budget } from '../lib/budget.js';
import { bwrapBaseline } from '../lib/bwrap.js';
import { compareRoundTrips } from '../lib/interleave.js';
import { makeRow, skippedRow, type Row } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import type { MetricResult } from './metric.js';
import { createLoop, openTierSession, type TierContext } from './tier-session.js';

/**
 * Budgets of the sandbox rows. docs/benchmarks.md gives one figure for sandbox
 * `exec.run`, ≤ 1.3× a bare `bwrap … true`: held to the p50; the p99 gets the
 * host tier's p99 allowance (2×). session.create has no budget figure for the
 * sandbox: ≤ 20 ms, the bench's own (a bubblewrap start is a few ms).
 */
export const SANDBOX_BUDGETS = {
  create: { kind: 'value-max', limit: 20, unit: 'ms' },
  execP50: { kind: 'ratio-max', limit: 1.3 },
  execP99: { kind: 'ratio-max', limit: 2 },
} as const satisfies Record<string, Budget>;

const ROWS = {
  create: 'session.create p50 (sandbox)',
  execP50: 'sandbox exec.run `true` round trip p50 vs bare bwrap',
  execP99: 'sandbox exec.run `true` round trip p99 vs bare bwrap',
} as const;

export function sandboxSkipped(why: string): Row[] {
  return [skippedRow(ROWS.create, 'ms', SANDBOX_BUDGETS.create, why), skippedRow(ROWS.execP50, 'ms', SANDBOX_BUDGETS.execP50, why), skippedRow(ROWS.execP99, 'ms', SANDBOX_BUDGETS.execP99, why)];
}

/**
 * session.create of a sandbox session (create + destroy loop, the create
 * timed), then exec.run of `true` in one sandbox session vs a bare
 * `bwrap <the daemon's arguments> -- true`, in alternating blocks.
 */
export async function measureSandbox(ctx: TierContext): Promise<MetricResult> {
  const status = ctx.tiers.sandbox;
  if (!status.available) return { rows: sandboxSkipped(status.detail), data: { skipped: status.detail } };
  const { iterations, warmup, blockSize, sandboxCreates } = ctx.options;
  const client = await TrlClient.connect({ socketPath: ctx.socketPath });
  try {
    const creates = await createLoop(client, 'sandbox', { warmup: Math.min(warmup, 20), samples: sandboxCreates });
    const create = summarize(creates.createMs);

    // The daemon hides its runtime directory and its env file (`.env` of its cwd) in every sandbox.
    const baseline = await bwrapBaseline({ workspace: ctx.workspace, hide: [ctx.runtimeDir, join(ctx.workspace, '.env')] });
    const session = await openTierSession(client, 'sandbox');
    try {
      const samples = await compareRoundTrips(
        { n: iterations, warmup, blockSize },
        () => session.runTrue(),
        () => baseline.run(),
      );
      const trl = summarize(samples.trl);
      const bare = summarize(samples.baseline);
      return {
        rows: [
          makeRow(ROWS.create, 'ms', SANDBOX_BUDGETS.create, create.p50),
          makeRow(ROWS.execP50, 'ms', SANDBOX_BUDGETS.execP50, trl.p50, bare.p50),
          makeRow(ROWS.execP99, 'ms', SANDBOX_BUDGETS.execP99, trl.p99, bare.p99),
        ],
        data: {
          unit: 'ms',
          tier_detail: status.detail,
          session_create: { samples: sandboxCreates, create, destroy: summarize(creates.destroyMs) },
          exec_run: { iterations, warmup, block_size: blockSize, trl, baseline: bare },
          baseline_command: [baseline.bwrap, ...baseline.args],
          baseline_args_from: baseline.source,
          ...(baseline.fallbackReason !== undefined ? { baseline_fallback_reason: baseline.fallbackReason } : {}),
        },
      };
    } finally {
      await session.close().catch(() => undefined);
      await baseline.close();
    }
  } finally {
    client.close();
  }
}
