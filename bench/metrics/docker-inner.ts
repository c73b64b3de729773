import { TrlClient } from '../../src/client/client.js';
import { docker } from '../lib/docker-cli.js';
import { compareRoundTrips } from '../lib/interleave.js';
import { makeRow, skippedRow, type Row } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import type { MetricResult } from './metric.js';
import { openTierSession, type TierContext } from './tier-session.js';

/**
 * The image with trl inside, built by `bash scripts/build-trl-image.sh` (docs/docker-tier.md, the inner path);
 * TRL_INNER_IMAGE names another (one built from a work in progress: `build-trl-image.sh --force <tag>`).
 */
export const INNER_IMAGE = process.env.TRL_INNER_IMAGE || 'trl-test:trl';

/**
 * Issue 17's goal for the inner path: a docker exec.run of `true` at most 2×
 * the host tier's, in the same run (alternating blocks, one daemon); the cold
 * session.create of the larger image under the same cold budget as today's.
 */
export const DOCKER_INNER_BUDGETS = {
  createCold: { kind: 'value-max', limit: 1000, unit: 'ms' },
  execP50: { kind: 'ratio-max', limit: 2 },
} as const;

const ROWS = {
  createCold: 'session.create p50 (docker inner path, cold)',
  execP50: 'docker exec.run `true` p50, inner path vs host tier',
} as const;

function skipped(why: string): Row[] {
  return [skippedRow(ROWS.createCold, 'ms', DOCKER_INNER_BUDGETS.createCold, why), skippedRow(ROWS.execP50, 'ms', DOCKER_INNER_BUDGETS.execP50, why)];
}

/** Cold creates of an inner-path session, then exec.run `true` there vs in a host session, interleaved. */
export async function measureDockerInner(ctx: TierContext): Promise<MetricResult> {
  if (!ctx.tiers.docker.available) return { rows: skipped(ctx.tiers.docker.detail), data: { skipped: ctx.tiers.docker.detail } };
  try {
    await docker(['image', 'inspect', INNER_IMAGE]);
  } catch {
    const why = `${INNER_IMAGE} is not in the engine: bash scripts/build-trl-image.sh`;
    return { rows: skipped(why), data: { skipped: why } };
  }
  const { dockerIterations: n, dockerWarmup: warmup, containerCreates } = ctx.options;
  const blockSize = Math.max(1, Math.min(ctx.options.blockSize, Math.floor(n / 4)));
  const client = await TrlClient.connect({ socketPath: ctx.socketPath });
  try {
    const createMs: number[] = [];
    for (let i = 0; i <= containerCreates; i++) {
      const t = performance.now();
      const s = await client.call('session.create', { runtime: 'docker', image: INNER_IMAGE });
      const ms = performance.now() - t;
      await client.call('session.destroy', { session_id: s.session_id });
      if (i > 0) createMs.push(ms); // the first is a warm-up
    }
    const inner = await client.call('session.create', { runtime: 'docker', image: INNER_IMAGE });
    const host = await openTierSession(client, 'host');
    try {
      const detail = inner.isolation.detail;
      if (detail.exec_path !== 'inner') throw new Error(`a session of ${INNER_IMAGE} took the ${detail.exec_path} path, not the inner one`);
      const runTrue = async () => {
        const r = await client.call('exec.run', { session_id: inner.session_id, command: 'true' });
        if (r.exit_code !== 0) throw new Error(`exec.run of true on the inner path exited ${r.exit_code}: ${r.stderr}`);
      };
      const samples = await compareRoundTrips({ n, warmup, blockSize }, runTrue, () => host.runTrue());
      const trl = summarize(samples.trl);
      const base = summarize(samples.baseline);
      const create = summarize(createMs);
      return {
        rows: [makeRow(ROWS.createCold, 'ms', DOCKER_INNER_BUDGETS.createCold, create.p50), makeRow(ROWS.execP50, 'ms', DOCKER_INNER_BUDGETS.execP50, trl.p50, base.p50)],
        data: { unit: 'ms', image: INNER_IMAGE, session_create_cold: create, exec_run: { iterations: n, warmup, block_size: blockSize, inner: trl, host: base } },
      };
    } finally {
      await client.call('session.destroy', { session_id: inner.session_id }).catch(() => undefined);
      await host.close().catch(() => undefined);
    }
  } finally {
    client.close();
  }
}
