import { compareSamplers, timed } from '../lib/interleave.js';
import { startLeanSpawner } from '../lib/lean-spawner.js';
import { makeRow } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import { TrlClient } from '../../src/client/client.js';
import type { MetricContext, MetricResult } from './metric.js';

const BYTES = 4 * 1024 * 1024;
/** A build log's worth of text: lines of words, so that JSON has newlines to escape. */
const COMMAND = `yes 'compiling src/module.ts: 42 warnings, "ok" in 1.5s' | head -c ${BYTES}`;

/**
 * exec.run of a command printing 4 MiB of text, answered in one result, vs a
 * bare spawn of the same command, its stdout collected and decoded to a
 * string (what the client ends up with), from a small process of its own
 * (lean-spawner.ts) and timed there.
 */
export async function measureLargeResult(ctx: MetricContext): Promise<MetricResult> {
  const n = ctx.options.quick ? 10 : 40;
  const client = await TrlClient.connect({ socketPath: ctx.socketPath });
  const lean = await startLeanSpawner();
  try {
    const sessionId = (await client.call('session.create', {})).session_id;
    const run = async () => {
      const r = await client.call('exec.run', { session_id: sessionId, command: COMMAND, timeout_s: 60 });
      if (r.stdout.length !== BYTES || r.stdout_truncated_bytes !== 0) throw new Error(`exec.run returned ${r.stdout.length} bytes (${r.stdout_truncated_bytes} dropped), expected ${BYTES}`);
    };
    const samples = await compareSamplers({ n, warmup: 3, blockSize: 5 }, () => timed(run), lean.sampler({ file: '/bin/sh', args: ['-c', COMMAND], stdoutChars: BYTES }));
    const trl = summarize(samples.trl);
    const baseline = summarize(samples.baseline);
    return {
      rows: [makeRow('exec.run returning 4 MiB p50', 'ms', { kind: 'ratio-max', limit: 1.3 }, trl.p50, baseline.p50)],
      data: { unit: 'ms', bytes: BYTES, samples: n, trl, baseline },
    };
  } finally {
    await lean.stop();
    client.close();
  }
}
