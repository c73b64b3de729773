import { chown, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TrlClient } from '../../src/client/client.js';
import type { Budget } from '../lib/budget.js';
import { bwrapBaseline } from '../lib/bwrap.js';
import { compareManySamplers, timed } from '../lib/interleave.js';
import { startLeanSpawner } from '../lib/lean-spawner.js';
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
 * ≤ 20 ms, shown against a fresh `bwrap … true`; the same in a workspace the
 * warm pool does not serve (a new sandbox each time) is reported.
 */
export const SANDBOX_BUDGETS = {
  create: { kind: 'value-max', limit: 20, unit: 'ms' },
  coldCreate: { kind: 'none' },
  execP50: { kind: 'ratio-max', limit: 1.3 },
  execP99: { kind: 'ratio-max', limit: 2 },
  bwrapP50: { kind: 'ratio-max', limit: 1.3 },
  bwrapP99: { kind: 'ratio-max', limit: 2 },
} as const satisfies Record<string, Budget>;

const ROWS = {
  create: 'session.create p50 (sandbox) vs bare bwrap',
  coldCreate: 'session.create p50 (sandbox, new sandbox: a workspace the warm pool does not serve) vs bare bwrap',
  execP50: 'sandbox exec.run `true` round trip p50 vs bare nsenter',
  execP99: 'sandbox exec.run `true` round trip p99 vs bare nsenter',
  bwrapP50: 'sandbox exec.run `true` round trip p50 vs bare bwrap',
  bwrapP99: 'sandbox exec.run `true` round trip p99 vs bare bwrap',
} as const;

export function sandboxSkipped(why: string): Row[] {
  return (Object.keys(ROWS) as (keyof typeof ROWS)[]).map((k) => skippedRow(ROWS[k], 'ms', SANDBOX_BUDGETS[k], why));
}

/**
 * session.create of a sandbox session in the default workspace (create +
 * destroy loop, the create timed: the warm pool serves it), the same in a
 * workspace the pool does not serve, then exec.run of `true` in one sandbox session vs a bare `nsenter`
 * into its sandbox and a bare `bwrap <the daemon's arguments> -- true`, the
 * three in blocks that take turns.
 */
export async function measureSandbox(ctx: TierContext): Promise<MetricResult> {
  const status = ctx.tiers.sandbox;
  if (!status.available) return { rows: sandboxSkipped(status.detail), data: { skipped: status.detail } };
  const { sandboxIterations: iterations, warmup, blockSize, sandboxCreates } = ctx.options;
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
      // The baselines are spawned from a small process of their own (lean-spawner.ts), as the host's are.
      const lean = await startLeanSpawner();
      const samples = await compareManySamplers(
        { n: iterations, warmup: Math.min(warmup, 20), blockSize },
        {
          trl: () => timed(() => session.runTrue()),
          nsenter: lean.sampler(entered),
          bwrap: lean.sampler(baseline.spec),
        },
      ).finally(() => lean.stop());
      const trl = summarize(samples.trl);
      const ns = summarize(samples.nsenter);
      const bare = summarize(samples.bwrap);
      // Last: a new sandbox per create leaves the kernel tearing namespaces down for a while, which the round trips would pay.
      const coldCreate = summarize(await coldCreateLoop(client, ctx.workspace, { warmup: Math.min(warmup, 20), samples: sandboxCreates }));
      return {
        rows: [
          makeRow(ROWS.create, 'ms', SANDBOX_BUDGETS.create, create.p50, bare.p50),
          makeRow(ROWS.coldCreate, 'ms', SANDBOX_BUDGETS.coldCreate, coldCreate.p50, bare.p50),
          makeRow(ROWS.execP50, 'ms', SANDBOX_BUDGETS.execP50, trl.p50, ns.p50),
          makeRow(ROWS.execP99, 'ms', SANDBOX_BUDGETS.execP99, trl.p99, ns.p99),
          makeRow(ROWS.bwrapP50, 'ms', SANDBOX_BUDGETS.bwrapP50, trl.p50, bare.p50),
          makeRow(ROWS.bwrapP99, 'ms', SANDBOX_BUDGETS.bwrapP99, trl.p99, bare.p99),
        ],
        data: {
          unit: 'ms',
          tier_detail: status.detail,
          session_create: { samples: sandboxCreates, warm_pool: /(\d+) warm/.exec(status.detail)?.[1] ?? '0', create, destroy: summarize(creates.destroyMs), new_sandbox: coldCreate },
          exec_run: { iterations, warmup, block_size: blockSize, trl, nsenter: ns, baseline: bare },
          nsenter_command: [entered.file, ...entered.args],
          baseline_command: [baseline.spec.file, ...baseline.spec.args],
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

/**
 * session.create + destroy in a subdirectory of the default workspace, which
 * the warm pool does not serve: a new sandbox each time. Only the create is
 * timed.
 */
async function coldCreateLoop(client: TrlClient, defaultWorkspace: string, opts: { warmup: number; samples: number }): Promise<number[]> {
  const workspace = join(defaultWorkspace, 'cold');
  await mkdir(workspace, { recursive: true });
  // A root daemon runs commands as the workspace's owner: the same as the default workspace's.
  const owner = await stat(defaultWorkspace);
  await chown(workspace, owner.uid, owner.gid);
  const ms: number[] = [];
  for (let i = 0; i < opts.warmup + opts.samples; i++) {
    let id = '';
    const t = await timed(async () => {
      id = (await client.call('session.create', { runtime: 'sandbox', workspace })).session_id;
    });
    await client.call('session.destroy', { session_id: id });
    if (i >= opts.warmup) ms.push(t);
  }
  return ms;
}
