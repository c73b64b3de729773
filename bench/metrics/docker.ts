import { TrlClient } from '../../src/client/client.js';
import type { Budget } from '../lib/budget.js';
import { docker, dockerExecTrue, runningContainers, startBaselineContainer } from '../lib/docker-cli.js';
import { compareSamplers, timed } from '../lib/interleave.js';
import { startLeanSpawner } from '../lib/lean-spawner.js';
import { sleep } from '../lib/proc.js';
import { makeRow, skippedRow, type Row } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import type { MetricResult } from './metric.js';
import { createLoop, openTierSession, type CreatedSession, type TierContext } from './tier-session.js';

/**
 * Budgets of the docker rows. docs/benchmarks.md gives one figure for docker
 * `exec.run`, ≤ 0.25× a `docker exec` through the CLI: held to the p50; the
 * p99 gets twice that (as the host tier's p99 gets 2× for its p50's 1.3×, a
 * little more than 1.5×). session.create has no budget figure: from the warm
 * pool ≤ 20 ms (no container start in the way: the pool exists for that);
 * cold ≤ 1000 ms, the bench's own (create + start of a container).
 */
export const DOCKER_BUDGETS = {
  createCold: { kind: 'value-max', limit: 1000, unit: 'ms' },
  createWarm: { kind: 'value-max', limit: 20, unit: 'ms' },
  execP50: { kind: 'ratio-max', limit: 0.25 },
  execP99: { kind: 'ratio-max', limit: 0.5 },
} as const satisfies Record<string, Budget>;

/** Containers the warm-pool daemon keeps started (its --docker-warm-pool). */
export const WARM_POOL_SIZE = 2;

const ROWS = {
  createCold: 'session.create p50 (docker, cold)',
  createWarm: `session.create p50 (docker, warm pool of ${WARM_POOL_SIZE})`,
  execP50: 'docker exec.run `true` round trip p50 vs `docker exec` CLI',
  execP99: 'docker exec.run `true` round trip p99 vs `docker exec` CLI',
} as const;

const REFILL_TIMEOUT_MS = 60_000;
/** After the pool's containers run, the daemon still has to see its start return: a margin before timing. */
const REFILL_SETTLE_MS = 250;

export function dockerColdSkipped(why: string): Row[] {
  return [skippedRow(ROWS.createCold, 'ms', DOCKER_BUDGETS.createCold, why), skippedRow(ROWS.execP50, 'ms', DOCKER_BUDGETS.execP50, why), skippedRow(ROWS.execP99, 'ms', DOCKER_BUDGETS.execP99, why)];
}

export function dockerWarmSkipped(why: string): Row[] {
  return [skippedRow(ROWS.createWarm, 'ms', DOCKER_BUDGETS.createWarm, why)];
}

/**
 * On a daemon without a warm pool: session.create of a docker session
 * (create + destroy loop, the create timed: a container create and start),
 * then exec.run of `true` in one docker session vs `docker exec <c> true`
 * through the CLI on a container of the same image, in alternating blocks.
 */
export async function measureDockerCold(ctx: TierContext): Promise<MetricResult> {
  const status = ctx.tiers.docker;
  if (!status.available) return { rows: dockerColdSkipped(status.detail), data: { skipped: status.detail } };
  const { dockerIterations: n, dockerWarmup: warmup, containerCreates } = ctx.options;
  const blockSize = Math.max(1, Math.min(ctx.options.blockSize, Math.floor(n / 4)));
  const client = await TrlClient.connect({ socketPath: ctx.socketPath });
  try {
    const creates = await createLoop(client, 'docker', { warmup: 1, samples: containerCreates });
    const create = summarize(creates.createMs);

    const container = await startBaselineContainer(ctx.dockerImage);
    try {
      const session = await openTierSession(client, 'docker');
      try {
        // The CLI is spawned from a small process of its own (lean-spawner.ts), as every spawned baseline is.
        const lean = await startLeanSpawner();
        const samples = await compareSamplers({ n, warmup, blockSize }, () => timed(() => session.runTrue()), lean.sampler(dockerExecTrue(container.id))).finally(() => lean.stop());
        const trl = summarize(samples.trl);
        const cli = summarize(samples.baseline);
        return {
          rows: [
            makeRow(ROWS.createCold, 'ms', DOCKER_BUDGETS.createCold, create.p50),
            makeRow(ROWS.execP50, 'ms', DOCKER_BUDGETS.execP50, trl.p50, cli.p50),
            makeRow(ROWS.execP99, 'ms', DOCKER_BUDGETS.execP99, trl.p99, cli.p99),
          ],
          data: {
            unit: 'ms',
            tier_detail: status.detail,
            image: ctx.dockerImage,
            session_create_cold: { samples: containerCreates, create, destroy: summarize(creates.destroyMs) },
            exec_run: { iterations: n, warmup, block_size: blockSize, trl, baseline: cli, trl_container: session.detail.container_id ?? null },
            baseline_command: ['docker', 'exec', container.id.slice(0, 12), 'true'],
          },
        };
      } finally {
        await session.close().catch(() => undefined);
      }
    } finally {
      await container.remove().catch(() => undefined);
    }
  } finally {
    client.close();
  }
}

/**
 * On a daemon started with `--docker-warm-pool 2`: session.create of a
 * default docker session while the pool is full. Before each sample the
 * bench waits (untimed) until the pool's containers run again, and after it
 * checks that the session really got a pool container.
 */
export async function measureDockerWarm(ctx: TierContext): Promise<MetricResult> {
  const status = ctx.tiers.docker;
  if (!status.available) return { rows: dockerWarmSkipped(status.detail), data: { skipped: status.detail } };
  const { containerCreates } = ctx.options;
  // Pool containers are named trl-<instance id, 8 chars>-pool-<hex> (docker-container.ts containerName).
  const poolName = `trl-${ctx.instanceId.slice(0, 8)}-pool-`;
  const taken = new Set<string>();
  const waits: number[] = [];
  const notWarm: string[] = [];

  const waitForFullPool = async () => {
    const start = performance.now();
    for (;;) {
      const ready = (await runningContainers(poolName)).filter((id) => !taken.has(id));
      if (ready.length >= WARM_POOL_SIZE) break;
      if (performance.now() - start > REFILL_TIMEOUT_MS) {
        throw new Error(`the warm pool did not refill to ${WARM_POOL_SIZE} running containers within ${REFILL_TIMEOUT_MS / 1000} s (${ready.length} running)`);
      }
      await sleep(50);
    }
    await sleep(REFILL_SETTLE_MS);
    waits.push(performance.now() - start);
  };
  const servedFromPool = async (s: CreatedSession) => {
    const id = s.detail.container_id;
    if (!id) throw new Error(`session.create of a docker session named no container_id: ${JSON.stringify(s.detail)}`);
    const name = (await docker(['inspect', '--format', '{{.Name}}', id])).trim();
    if (name.includes(poolName)) taken.add(id.slice(0, 12));
    else notWarm.push(name);
  };

  const client = await TrlClient.connect({ socketPath: ctx.socketPath });
  try {
    const creates = await createLoop(client, 'docker', { warmup: 1, samples: containerCreates, between: waitForFullPool, check: servedFromPool });
    if (notWarm.length > 0) {
      throw new Error(`${notWarm.length} of ${containerCreates + 1} sessions were not given a pool container (${notWarm.slice(0, 3).join(', ')}): the warm figure would be a cold one`);
    }
    const create = summarize(creates.createMs);
    return {
      rows: [makeRow(ROWS.createWarm, 'ms', DOCKER_BUDGETS.createWarm, create.p50)],
      data: {
        unit: 'ms',
        tier_detail: status.detail,
        pool_size: WARM_POOL_SIZE,
        session_create_warm: { samples: containerCreates, create, destroy: summarize(creates.destroyMs) },
        refill_wait: summarize(waits),
      },
    };
  } finally {
    client.close();
  }
}
