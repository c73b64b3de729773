import { spawn } from 'node:child_process';
import { compareRoundTrips } from '../lib/interleave.js';
import { makeRow } from '../lib/row.js';
import { summarize } from '../lib/stats.js';
import { TrlClient } from '../../src/client/client.js';
import type { MetricContext, MetricResult } from './metric.js';

const BYTES = 4 * 1024 * 1024;
/** A build log's worth of text: lines of words, so that JSON has newlines to escape. */
const COMMAND = `yes 'compiling src/module.ts: 42 warnings, "ok" in 1.5s' | head -c ${BYTES}`;

/** Baseline: a bare spawn of the same command, its stdout collected and decoded to a string (what the client ends up with). */
function bareSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('/bin/sh', ['-c', COMMAND], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => chunks.push(d));
    c.stderr.resume();
    c.on('error', reject);
    c.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.length !== BYTES) reject(new Error(`the bare spawn collected ${text.length} bytes, expected ${BYTES}`));
      else resolve();
    });
  });
}

/** exec.run of a command printing 4 MiB of text, answered in one result, vs a bare spawn collecting the same output. */
export async function measureLargeResult(ctx: MetricContext): Promise<MetricResult> {
  const n = ctx.options.quick ? 10 : 40;
  const client = await TrlClient.connect({ socketPath: ctx.socketPath });
  try {
    const sessionId = (await client.call('session.create', {})).session_id;
    const run = async () => {
      const r = await client.call('exec.run', { session_id: sessionId, command: COMMAND, timeout_s: 60 });
      if (r.stdout.length !== BYTES || r.stdout_truncated_bytes !== 0) throw new Error(`exec.run returned ${r.stdout.length} bytes (${r.stdout_truncated_bytes} dropped), expected ${BYTES}`);
    };
    const samples = await compareRoundTrips({ n, warmup: 3, blockSize: 5 }, run, bareSpawn);
    const trl = summarize(samples.trl);
    const baseline = summarize(samples.baseline);
    return {
      rows: [makeRow('exec.run returning 4 MiB p50', 'ms', { kind: 'ratio-max', limit: 1.3 }, trl.p50, baseline.p50)],
      data: { unit: 'ms', bytes: BYTES, samples: n, trl, baseline },
    };
  } finally {
    client.close();
  }
}
