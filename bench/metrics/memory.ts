import { TrlClient } from '../../src/client/client.js';
import { startDaemon } from '../lib/daemon.js';
import { spawn } from 'node:child_process';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { readAnonBytes, readRssBytes, sleep } from '../lib/proc.js';
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

/** A process's settled memory: resident (RSS) and, of that, anonymous (neither code nor files). */
interface Settled {
  first: number;
  settled: number;
  reads: number[];
  anon: number;
}

/**
 * RSS of an idle process: V8 gives memory back only after several seconds of
 * idleness (its memory reducer starts at about 8 s), so read once a second for
 * at least 12 s and until the figure has not fallen for three reads (at most
 * 25 s); the settled figure is the median of the last five readings, so that
 * one GC landing on a reading does not decide it (the anonymous part likewise).
 * No GC is forced.
 */
async function settledRss(pid: number): Promise<Settled> {
  const first = await readRssBytes(pid);
  const reads = [first];
  const anons = [await readAnonBytes(pid)];
  let best = first;
  let flat = 0;
  for (let waited = 0; waited < SETTLE_MAX_MS && (flat < 3 || waited < SETTLE_MIN_MS); waited += 1000) {
    await sleep(1000);
    const now = await readRssBytes(pid);
    reads.push(now);
    anons.push(await readAnonBytes(pid));
    if (now < best) {
      best = now;
      flat = 0;
    } else flat++;
  }
  return { first, settled: medianOfLast(reads), reads, anon: medianOfLast(anons) };
}

function medianOfLast(values: number[]): number {
  const last = values.slice(-SETTLED_READS).sort((a, b) => a - b);
  const median = last[Math.floor(last.length / 2)];
  if (median === undefined) throw new Error('no memory readings to take the median of');
  return median;
}

/**
 * The physical floor of an idle daemon's memory: a Node process with the
 * daemon's V8 flags that does nothing (the same binary: its code and data
 * pages are most of any Node process's RSS), settled the same way, at the
 * same time as the daemon.
 */
async function settledBareNode(): Promise<Settled> {
  const child = spawn(process.execPath, [...NODE_FLAGS, '-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  try {
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => (child.pid === undefined ? reject(new Error('the bare node started without a pid')) : resolve(child.pid)));
      child.once('error', reject);
    });
    return await settledRss(pid);
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * On a daemon of its own with the default tiers (host, sandbox, docker: what
 * `trl serve` offers unless told otherwise), fresh and idle: its settled RSS
 * (see settledRss) beside an idle bare `node`'s, and how much of each is
 * anonymous memory (the rest is pages of the node binary and libraries, which
 * every Node process maps and shares), then the growth per idle host session: create N
 * sessions, let the heap settle again, (settled − idle) / N; destroy them.
 */
export async function measureMemory(ctx: MetricContext, env: Record<string, string> = {}): Promise<MetricResult> {
  const { idleMs, idleSessions } = ctx.options;
  const daemon = await startDaemon({ env, readyTimeoutMs: READY_TIMEOUT_MS });
  try {
    await sleep(idleMs);
    const [idle, bare] = await Promise.all([settledRss(daemon.pid), settledBareNode()]);
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
          makeRow('idle daemon RSS (default tiers; baseline: an idle `node`)', 'MiB', { kind: 'value-max', limit: 60, unit: 'MiB' }, idle.settled / MiB, bare.settled / MiB),
          makeRow('idle daemon anonymous memory, of that RSS', 'MiB', { kind: 'none' }, idle.anon / MiB, bare.anon / MiB),
          makeRow('RSS per idle host session', 'KiB', { kind: 'value-max', limit: 15, unit: 'KiB' }, perSession / KiB),
        ],
        data: {
          daemon_args: 'default tiers',
          idle_ms: idleMs,
          sessions: idleSessions,
          rss_after_start_bytes: idle.first,
          idle_rss_bytes: idle.settled,
          idle_rss_reads_bytes: idle.reads,
          idle_anon_bytes: idle.anon,
          bare_node_rss_bytes: bare.settled,
          bare_node_rss_reads_bytes: bare.reads,
          bare_node_anon_bytes: bare.anon,
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
