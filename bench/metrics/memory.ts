import { TrlClient } from '../../src/client/client.js';
import { readRssBytes, sleep } from '../lib/proc.js';
import { makeRow } from '../lib/row.js';
import type { MetricContext, MetricResult } from './metric.js';

const MB = 1024 * 1024;
const KB = 1024;

/**
 * Idle daemon RSS (after warm-up and an idle pause, no forced GC), then the RSS
 * growth per idle host session: create N sessions, pause, read, destroy them.
 */
export async function measureMemory(ctx: MetricContext): Promise<MetricResult> {
  const { idleMs, idleSessions } = ctx.options;
  await sleep(idleMs);
  const idleRss = await readRssBytes(ctx.daemonPid);

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
