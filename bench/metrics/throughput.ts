import { TrlClient } from '../../src/client/client.js';
import { spawnTrue } from '../lib/baseline.js';
import { sleep } from '../lib/proc.js';
import { summarize } from '../lib/stats.js';
import { makeRow } from '../lib/row.js';
import { openHostSession, type HostSession } from './host-session.js';
import type { MetricContext, MetricResult } from './metric.js';

interface Block {
  side: 'trl' | 'baseline';
  ops: number;
  elapsed_ms: number;
}

/** Run each worker in a loop until the deadline; the block ends when the last call in flight returns. */
async function runFor(ms: number, workers: ReadonlyArray<() => Promise<void>>): Promise<{ ops: number; elapsedMs: number }> {
  const start = performance.now();
  const deadline = start + ms;
  let ops = 0;
  await Promise.all(
    workers.map(async (work) => {
      while (performance.now() < deadline) {
        await work();
        ops++;
      }
    }),
  );
  return { ops, elapsedMs: performance.now() - start };
}

/** Pause between two pings: a probe of the daemon's responsiveness, not a ninth client. */
const PING_GAP_MS = 10;

/**
 * A client of its own sending `system.ping` one after the other while `active`
 * says so: how long the daemon keeps a cheap request waiting under load.
 */
function pinger(client: TrlClient): { samples: number[]; active: boolean; stop(): Promise<void> } {
  const state = { samples: [] as number[], active: false, stopped: false };
  const loop = (async () => {
    while (!state.stopped) {
      if (state.active) {
        const start = performance.now();
        await client.call('system.ping', {});
        if (state.active) state.samples.push(performance.now() - start);
      }
      await sleep(PING_GAP_MS);
    }
  })();
  return {
    samples: state.samples,
    get active() {
      return state.active;
    },
    set active(v: boolean) {
      state.active = v;
    },
    async stop() {
      state.stopped = true;
      await loop;
    },
  };
}

/**
 * Commands per second with N concurrent clients (one connection and session
 * each) vs N concurrent bare spawns, and the latency of a `system.ping` sent
 * meanwhile by one more client (trl blocks only).
 */
export async function measureThroughput(ctx: MetricContext): Promise<MetricResult> {
  const { concurrency, throughputSeconds, throughputBlocks } = ctx.options;
  const sessions: HostSession[] = [];
  const pingClient = await TrlClient.connect({ socketPath: ctx.socketPath });
  const ping = pinger(pingClient);
  try {
    for (let i = 0; i < concurrency; i++) sessions.push(await openHostSession(ctx.socketPath));
    const trlWorkers = sessions.map((s) => () => s.runTrue());
    const baseWorkers = sessions.map(() => spawnTrue);

    const warmupMs = Math.min(500, (throughputSeconds * 1000) / throughputBlocks);
    await runFor(warmupMs, trlWorkers);
    await runFor(warmupMs, baseWorkers);

    const blockMs = (throughputSeconds * 1000) / throughputBlocks;
    const blocks: Block[] = [];
    for (let i = 0; i < throughputBlocks; i++) {
      const order: Array<'trl' | 'baseline'> = i % 2 === 0 ? ['trl', 'baseline'] : ['baseline', 'trl'];
      for (const side of order) {
        ping.active = side === 'trl';
        const r = await runFor(blockMs, side === 'trl' ? trlWorkers : baseWorkers);
        ping.active = false;
        blocks.push({ side, ops: r.ops, elapsed_ms: r.elapsedMs });
      }
    }
    const rate = (side: Block['side']) => {
      const mine = blocks.filter((b) => b.side === side);
      const ops = mine.reduce((acc, b) => acc + b.ops, 0);
      const ms = mine.reduce((acc, b) => acc + b.elapsed_ms, 0);
      return { ops, seconds: ms / 1000, per_second: ops / (ms / 1000) };
    };
    const trl = rate('trl');
    const baseline = rate('baseline');
    await ping.stop();
    const pings = summarize(ping.samples);
    return {
      rows: [
        makeRow(`commands/s, ${concurrency} concurrent clients`, '/s', { kind: 'ratio-min', limit: 0.95 }, trl.per_second, baseline.per_second),
        makeRow(`system.ping p99 under ${concurrency} clients' load`, 'ms', { kind: 'value-max', limit: 20, unit: 'ms' }, pings.p99),
      ],
      data: { concurrency, seconds_per_side: throughputSeconds, blocks_per_side: throughputBlocks, trl, baseline, blocks, ping_under_load: { gap_ms: PING_GAP_MS, ...pings } },
    };
  } finally {
    await ping.stop();
    pingClient.close();
    await Promise.allSettled(sessions.map((s) => s.close()));
  }
}
