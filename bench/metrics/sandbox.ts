import { join } from 'node:path';
import { TrlClient } from '../../src/client/client.js';
import type { Budget } from '../lib/budget.js';
import { bwrapBaseline } from '../lib/bwrap.js';
import { compareManyRoundTrips } from '../lib/interleave.js';
import { nsenterBaseline } from '../lib/nsenter.js';
import { makeRow, skippedRow, type Row } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import type { MetricResult } from './metric.js';
import { createLoop, openTierSession, type TierContext } from './tier-session.js';

/**
 * Budgets of the sandbox rows. `exec.run` in a live sandbox is held to ≤ 1.3×
 * a bare `nsenter` into that same sandbox at the p50 (the p99 gets the host
 * tier's 2×); a fresh `bwrap … true` is the second baseline, reported (a
 * command in a live sandbox should beat starting one). session.create:
 * ≤ 20 ms.
 */
export const SANDBOX_BUDGETS = {
  create: { kind: 'value-max', limit: 20, unit: 'ms' },
  execP50: { kind: 'ratio-max', limit: 1.3 },
  execP99: { kind: 'ratio-max', limit: 2 },
  bwrapP50: { kind: 'ratio-max', limit: 1.3 },
  bwrapP99: { kind: 'ratio-max', limit: 2 },
} as const satisfies Record<string, Budget>;

const ROWS = {
  create: 'session.create p50 (sandbox)',
  execP50: 'sandbox exec.run `true` round trip p50 vs bare nsenter',
  execP99: 'sandbox exec.run `true` round trip p99 vs bare nsenter',
  bwrapP50: 'sandbox exec.run `true` round trip p50 vs bare bwrap',
  bwrapP99: 'sandbox exec.run `true` round trip p99 vs bare bwrap',
} as const;

export function sandboxSkipped(why: string): Row[] {
  return (Object.keys(ROWS) as (keyof typeof ROWS)[]).map((k) => skippedRow(ROWS[k], 'ms', SANDBOX_BUDGETS[k], why));
}

/**
 * session.create of a sandbox session (create + destroy loop, the create
 * timed), then exec.run of `true` in one sandbox session vs a bare `nsenter`
 * into its sandbox and a bare `bwrap <the daemon's arguments> -- true`, the
 * three in blocks that take turns.
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
      const sandboxPid = Number(session.detail.sandbox_pid);
      if (!Number.isInteger(sandboxPid) || sandboxPid <= 0) throw new Error(`session.create of a sandbox session gave no sandbox_pid (${JSON.stringify(session.detail)})`);
      const entered = nsenterBaseline(sandboxPid, session.detail.network !== 'none');
      const samples = await compareManyRoundTrips(
        { n: iterations, warmup, blockSize },
        {
          trl: () => session.runTrue(),
          nsenter: () => entered.run(),
          bwrap: () => baseline.run(),
        },
      );
      const trl = summarize(samples.trl);
      const ns = summarize(samples.nsenter);
      const bare = summarize(samples.bwrap);
      return {
        rows: [
          makeRow(ROWS.create, 'ms', SANDBOX_BUDGETS.create, create.p50),
          makeRow(ROWS.execP50, 'ms', SANDBOX_BUDGETS.execP50, trl.p50, ns.p50),
          makeRow(ROWS.execP99, 'ms', SANDBOX_BUDGETS.execP99, trl.p99, ns.p99),
          makeRow(ROWS.bwrapP50, 'ms', SANDBOX_BUDGETS.bwrapP50, trl.p50, bare.p50),
          makeRow(ROWS.bwrapP99, 'ms', SANDBOX_BUDGETS.bwrapP99, trl.p99, bare.p99),
        ],
        data: {
          unit: 'ms',
          tier_detail: status.detail,
          session_create: { samples: sandboxCreates, create, destroy: summarize(creates.destroyMs) },
          exec_run: { iterations, warmup, block_size: blockSize, trl, nsenter: ns, baseline: bare },
          nsenter_command: [entered.nsenter, ...entered.args],
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
