import { readdir } from 'node:fs/promises';
import type { TrlClient } from '../../src/client/client.js';
import { readRssBytes } from '../lib/proc.js';

export interface Sample {
  /** Seconds since the workload started. */
  t: number;
  rss_bytes: number | null;
  fds: number | null;
  active_sessions: number | null;
  running_commands: number | null;
  zombie_children: number | null;
  total_commands_run: number | null;
}

async function fdCount(pid: number): Promise<number | null> {
  try {
    return (await readdir(`/proc/${pid}/fd`)).length;
  } catch {
    return null;
  }
}

/** One sample: RSS and fds from /proc (independent of the daemon's own account), counters from system.stats. */
export async function takeSample(pid: number, client: TrlClient, startedAt: number): Promise<Sample> {
  const [rss, fds, stats] = await Promise.all([readRssBytes(pid).catch(() => null), fdCount(pid), client.call('system.stats', {}).catch(() => null)]);
  return {
    t: Math.round((Date.now() - startedAt) / 100) / 10,
    rss_bytes: rss,
    fds,
    active_sessions: stats?.active_sessions ?? null,
    running_commands: stats?.running_commands ?? null,
    zombie_children: stats?.zombie_children ?? null,
    total_commands_run: stats?.total_commands_run ?? null,
  };
}

/** Sample every `seconds` until stopped. */
export function startSampler(pid: number, client: TrlClient, startedAt: number, seconds: number, onSample: (s: Sample) => void): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      onSample(await takeSample(pid, client, startedAt));
      const until = Date.now() + seconds * 1000;
      while (!stopped && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}
