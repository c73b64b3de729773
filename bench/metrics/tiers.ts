import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TrlClient } from '../../src/client/client.js';
import type { BenchOptions } from '../lib/args.js';
import { startDaemon, type Daemon } from '../lib/daemon.js';
import { readRssBytes } from '../lib/proc.js';
import { errorRow, type Row } from '../lib/row.js';
import { withTimeout } from '../lib/timeout.js';
import { dockerWarmSkipped, measureDockerCold, measureDockerWarm, WARM_POOL_SIZE } from './docker.js';
import { measureDockerInner } from './docker-inner.js';
import type { MetricResult } from './metric.js';
import { measureSandbox } from './sandbox.js';
import type { TierContext, TierName, TierStatus } from './tier-session.js';

/** The uid and gid isolated commands of a root daemon fall back to. */
const NOBODY = 65534;

/** The docker tier's test image, built by `bash scripts/build-test-image.sh`. */
export const DOCKER_IMAGE = 'trl-test:busybox';

/**
 * The isolation tiers get their own daemons, so the host daemon's rows
 * (memory, round trips, throughput) measure a daemon with the host tier
 * alone. Docker sessions with network: true would use the host network
 * (none of the bench's do).
 */
/** Warm sandboxes of the sandbox rows' daemon. */
export const SANDBOX_WARM_POOL = 2;
const TIER_ARGS = ['--tiers', 'host,sandbox,docker', '--docker-image', DOCKER_IMAGE, '--docker-network', 'host'];
/** Tier health checks (a bubblewrap start, a container start) run before the daemon listens. */
const READY_TIMEOUT_MS = 60_000;
const METRIC_TIMEOUT_MS = 5 * 60 * 1000;

type ShutdownStatus = Awaited<ReturnType<Daemon['stop']>>;

export interface TierPhase {
  rows: Row[];
  data: Record<string, unknown>;
  errors: Array<{ metric: string; error: string }>;
}

interface TierMetric {
  key: string;
  title: string;
  run: (ctx: TierContext) => Promise<MetricResult>;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** system.info's tiers, with a missing tier reported as unavailable. */
async function tierStatus(socketPath: string): Promise<{ instanceId: string; tiers: Record<TierName, TierStatus> }> {
  const client = await TrlClient.connect({ socketPath });
  try {
    const info = await client.call('system.info', {});
    const of = (name: TierName): TierStatus => {
      const t = info.tiers[name];
      return t ? { available: t.available, detail: t.detail } : { available: false, detail: `the daemon reports no ${name} tier in system.info` };
    };
    return { instanceId: info.instance_id, tiers: { host: of('host'), sandbox: of('sandbox'), docker: of('docker') } };
  } finally {
    client.close();
  }
}

/**
 * Start a tier daemon, run its metrics, stop it. A daemon that does not start
 * makes every one of its metrics an error row; one that does not exit cleanly
 * on SIGTERM is an error of its own.
 */
async function withTierDaemon(
  label: string,
  extraArgs: readonly string[],
  metrics: readonly TierMetric[],
  env: Record<string, string>,
  options: BenchOptions,
  workspace: string,
  log: (m: string) => void,
  phase: TierPhase,
): Promise<Record<TierName, TierStatus> | null> {
  let daemon: Daemon | undefined;
  let tiers: Record<TierName, TierStatus> | null = null;
  const args = [...TIER_ARGS, '--default-working-dir', workspace, ...extraArgs];
  const record: Record<string, unknown> = { args };
  phase.data[label] = record;
  try {
    daemon = await startDaemon({ env, args, readyTimeoutMs: READY_TIMEOUT_MS });
    const status = await tierStatus(daemon.socketPath);
    tiers = status.tiers;
    record.pid = daemon.pid;
    record.tiers = tiers;
    for (const [name, t] of Object.entries(tiers)) log(`${label} daemon: ${name} ${t.available ? 'available' : `unavailable: ${t.detail}`}`);
    const ctx: TierContext = {
      socketPath: daemon.socketPath,
      daemonPid: daemon.pid,
      options,
      tiers,
      instanceId: status.instanceId,
      workspace,
      runtimeDir: dirname(daemon.socketPath),
      dockerImage: DOCKER_IMAGE,
    };
    for (const metric of metrics) {
      log(`${metric.title}…`);
      const started = performance.now();
      try {
        const result = await withTimeout(metric.run(ctx), METRIC_TIMEOUT_MS, metric.title);
        phase.rows.push(...result.rows);
        const seconds = (performance.now() - started) / 1000;
        phase.data[metric.key] = { ...result.data, duration_s: seconds };
        log(`${metric.title}: ${seconds.toFixed(0)} s`);
        for (const r of result.rows) if (r.skipped !== undefined) log(`${r.metric}: skipped (${r.skipped})`);
      } catch (err) {
        log(`${metric.title} failed: ${message(err)}`);
        phase.rows.push(errorRow(metric.title, err));
        phase.errors.push({ metric: metric.key, error: message(err) });
      }
    }
    record.final_rss_bytes = await readRssBytes(daemon.pid).catch(() => null);
  } catch (err) {
    log(`the ${label} daemon could not run: ${message(err)}`);
    for (const metric of metrics) phase.rows.push(errorRow(metric.title, err));
    phase.errors.push({ metric: `${label}_daemon`, error: message(err) });
  } finally {
    if (daemon) {
      const shutdown: ShutdownStatus = await daemon.stop();
      record.shutdown = shutdown;
      if (shutdown.forced || shutdown.code !== 0) {
        const m = `the ${label} daemon did not exit cleanly on SIGTERM (code ${shutdown.code}, signal ${shutdown.signal}, forced ${shutdown.forced})`;
        log(m);
        phase.errors.push({ metric: `${label}_shutdown`, error: m });
      }
    }
  }
  return tiers;
}

/**
 * The isolation-tier rows: a daemon with host, sandbox and docker (no warm
 * pool) for the sandbox rows and the cold docker rows, then one with a warm
 * pool for the warm session.create. A tier the daemon reports unavailable
 * gives rows marked skipped with its health-check detail.
 */
export async function runTierPhase(options: BenchOptions, env: Record<string, string>, log: (m: string) => void, only: 'all' | 'sandbox' = 'all'): Promise<TierPhase> {
  const phase: TierPhase = { rows: [], data: {}, errors: [] };
  const started = performance.now();
  // The sessions' workspace: outside the daemon's runtime directory, which every sandbox hides.
  const workspace = await mkdtemp(join(tmpdir(), 'trl-bench-ws-'));
  // A root daemon runs isolated commands as the workspace's owner, never root: give it to nobody.
  if (process.getuid?.() === 0) await chown(workspace, NOBODY, NOBODY);
  try {
    const tiers = await withTierDaemon(
      'tiers',
      // The sandbox rows' daemon keeps a warm pool (off by default, docs/security.md).
      ['--sandbox-warm-pool', String(SANDBOX_WARM_POOL)],
      [
        { key: 'sandbox', title: 'sandbox session.create and exec.run vs bare nsenter and bare bwrap', run: measureSandbox },
        ...(only === 'all'
          ? [
              { key: 'docker_cold', title: 'docker session.create (cold) and exec.run vs docker exec', run: measureDockerCold },
              { key: 'docker_inner', title: 'docker inner path: session.create (cold) and exec.run vs the host tier', run: measureDockerInner },
            ]
          : []),
      ],
      env,
      options,
      workspace,
      log,
      phase,
    );
    const warm: TierMetric = { key: 'docker_warm', title: 'docker session.create from the warm pool', run: measureDockerWarm };
    if (only === 'sandbox') {
      /* the sandbox rows alone (--only sandbox) */
    } else if (tiers && !tiers.docker.available) {
      // No second daemon start for a tier that is not there.
      phase.rows.push(...dockerWarmSkipped(tiers.docker.detail));
      log(`${warm.title}: skipped (${tiers.docker.detail})`);
    } else {
      await withTierDaemon('warm_pool', ['--docker-warm-pool', String(WARM_POOL_SIZE)], [warm], env, options, workspace, log, phase);
    }
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
  const seconds = (performance.now() - started) / 1000;
  phase.data.duration_s = seconds;
  log(`isolation tiers took ${seconds.toFixed(0)} s`);
  return phase;
}
