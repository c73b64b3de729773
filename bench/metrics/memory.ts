import { TrlClient } from '../../src/client/client.js';
import { readRssBytes, sleep } from '../lib/proc.js';
import { makeRow } from '../lib/row.js';
import type { MetricContext, MetricResult } from './metric.js';

const MB = 1024 * 1024;
const KB = 1024;

const SETTLE_MIN_MS = 12_000;
const SETTLE_MAX_MS = 25_000;

/**
 * RSS of an idle daemon: V8 gives memory back only after several seconds of
 * idleness (its memory reducer starts at about 8 s), so read once a second for
 * at least 12 s and until the figure has not fallen for three reads (at most
 * 25 s). No GC is forced.
 */
async function settledRss(pid: number): Promise<{ first: number; settled: number }> {
  const first = await readRssBytes(pid);
  let best = first;
  let flat = 0;
  for (let waited = 0; waited < SETTLE_MAX_MS && (flat < 3 || waited < SETTLE_MIN_MS); waited += 1000) {
    await sleep(1000);
    const now = await readRssBytes(pid);
    if (now < best) {
      best = now;
      flat = 0;
    } else flat++;
  }
  return { first, settled: best };
}

/**
 * Idle daemon RSS (settled, see settledRss), then the RSS growth per idle host
 * session: create N sessions, pause, read, destroy them.
 */
export async function measureMemory(ctx: MetricContext): Promise<MetricResult> {
  const { idleMs, idleSessions } = ctx.options;
  await sleep(idleMs);
  const { first: startRss, settled: idleRss } = await settledRss(ctx.daemonPid);

  const client = await TrlClient.connect({ socketPath: ctx.socketPath });
  const ids: string[] = [];
  try {
    for (let i = 0; i < idleSessions; i++) ids.push((await client.call('session.create', {})).session_id);
    await sleep(idleMs);
    const withSessions = await readRssBytes(ctx.daemonPid);
    const perSession = (withSessions - idleRss) / idleSessions;
    for (const id of ids.splice(0)) await client.call('session.destroy', { session_id: id });
    await sleep(idleMs);
    const afterDestroy = await readRssBytes(ctx.daemonPid);
    return {
      rows: [
        makeRow('idle daemon RSS', 'MB', { kind: 'value-max', limit: 60, unit: 'MB' }, idleRss / MB),
        makeRow('RSS per idle host session', 'KB', { kind: 'value-max', limit: 30, unit: 'KB' }, perSession / KB),
      ],
      data: {
        idle_ms: idleMs,
        sessions: idleSessions,
        rss_after_start_bytes: startRss,
        idle_rss_bytes: idleRss,
        rss_with_sessions_bytes: withSessions,
        rss_per_session_bytes: perSession,
        rss_after_destroy_bytes: afterDestroy,
      },
    };
  } finally {
    for (const id of ids) await client.call('session.destroy', { session_id: id }).catch(() => undefined);
    client.close();
  }
}
