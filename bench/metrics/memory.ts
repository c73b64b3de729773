import { TrlClient } from '../../src/client/client.js';
import { startDaemon } from '../lib/daemon.js';
import { readRssBytes, sleep } from '../lib/proc.js';
import { makeRow } from '../lib/row.js';
import type { MetricContext, MetricResult } from './metric.js';

/** Mebibytes and kibibytes, named as such in the rows. */
const MiB = 1024 * 1024;
const KiB = 1024;

const SETTLE_MIN_MS = 12_000;
const SETTLE_MAX_MS = 25_000;
/** Readings the settled figure is the median of. */
const SETTLED_READS = 5;
/** Tier health checks (a bubblewrap start, a docker ping) run before the daemon listens. */
const READY_TIMEOUT_MS = 60_000;

/**
 * RSS of an idle daemon: V8 gives memory back only after several seconds of
 * idleness (its memory reducer starts at about 8 s), so read once a second for
 * at least 12 s and until the figure has not fallen for three reads (at most
 * 25 s); the settled figure is the median of the last five readings, so that
 * one GC landing on a reading does not decide it. No GC is forced.
 */
async function settledRss(pid: number): Promise<{ first: number; settled: number; reads: number[] }> {
  const first = await readRssBytes(pid);
  const reads = [first];
  let best = first;
  let flat = 0;
  for (let waited = 0; waited < SETTLE_MAX_MS && (flat < 3 || waited < SETTLE_MIN_MS); waited += 1000) {
    await sleep(1000);
    const now = await readRssBytes(pid);
    reads.push(now);
    if (now < best) {
      best = now;
      flat = 0;
    } else flat++;
  }
  const last = reads.slice(-SETTLED_READS).sort((a, b) => a - b);
  return { first, settled: last[Math.floor(last.length / 2)]!, reads };
}

/**
 * On a daemon of its own with the default tiers (host, sandbox, docker: what
 * `trl serve` offers unless told otherwise), fresh and idle: its settled RSS
 * (see settledRss), then the growth per idle host session: create N
 * sessions, let the heap settle again, (settled − idle) / N; destroy them.
 */
export async function measureMemory(ctx: MetricContext, env: Record<string, string> = {}): Promise<MetricResult> {
  const { idleMs, idleSessions } = ctx.options;
  const daemon = await startDaemon({ env, readyTimeoutMs: READY_TIMEOUT_MS });
  try {
    await sleep(idleMs);
    const idle = await settledRss(daemon.pid);
    const client = await TrlClient.connect({ socketPath: daemon.socketPath });
    const ids: string[] = [];
    try {
      for (let i = 0; i < idleSessions; i++) ids.push((await client.call('session.create', { runtime: 'host' })).session_id);
      const withSessions = await settledRss(daemon.pid);
      const perSession = (withSessions.settled - idle.settled) / idleSessions;
      for (const id of ids.splice(0)) await client.call('session.destroy', { session_id: id });
      await sleep(idleMs);
      const afterDestroy = await readRssBytes(daemon.pid);
      return {
        rows: [
          makeRow('idle daemon RSS (default tiers)', 'MiB', { kind: 'value-max', limit: 60, unit: 'MiB' }, idle.settled / MiB),
          makeRow('RSS per idle host session', 'KiB', { kind: 'value-max', limit: 15, unit: 'KiB' }, perSession / KiB),
        ],
        data: {
          daemon_args: 'default tiers',
          idle_ms: idleMs,
          sessions: idleSessions,
          rss_after_start_bytes: idle.first,
          idle_rss_bytes: idle.settled,
          idle_rss_reads_bytes: idle.reads,
          rss_with_sessions_bytes: withSessions.settled,
          rss_with_sessions_reads_bytes: withSessions.reads,
          rss_per_session_bytes: perSession,
          rss_after_destroy_bytes: afterDestroy,
        },
      };
    } finally {
      for (const id of ids) await client.call('session.destroy', { session_id: id }).catch(() => undefined);
      client.close();
    }
  } finally {
    await daemon.stop();
  }
}
