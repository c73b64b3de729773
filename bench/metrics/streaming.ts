import { spawn } from 'node:child_process';
import { TrlClient } from '../../src/client/client.js';
import { readRssBytes } from '../lib/proc.js';
import { makeRow } from '../lib/row.js';
import type { MetricContext, MetricResult } from './metric.js';

const MB = 1024 * 1024;
const GIB = 1024 * MB;

/** The same producer on both sides: printable bytes, so utf8 events carry them as they are. */
const producer = (bytes: number) => `head -c ${bytes} /dev/zero | tr '\\0' 'x'`;

/** Baseline: the producer's stdout read by this process through a plain pipe (`… | cat` into Node). */
async function baseline(bytes: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    const c = spawn('/bin/sh', ['-c', `${producer(bytes)} | cat`], { stdio: ['ignore', 'pipe', 'inherit'] });
    c.stdout.on('data', (d: Buffer) => (got += d.length));
    c.on('error', reject);
    c.on('close', () => resolve());
  });
  if (got !== bytes) throw new Error(`baseline read ${got} bytes, expected ${bytes}`);
  return bytes / MB / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** trl: exec.stream of the producer, every event parsed by the SDK; the daemon's RSS sampled throughout. */
async function throughTrl(ctx: MetricContext, bytes: number): Promise<{ mbps: number; peakRss: number; gaps: number }> {
  const client = await TrlClient.connect({ socketPath: ctx.socketPath });
  let peakRss = await readRssBytes(ctx.daemonPid);
  const sampler = setInterval(() => {
    void readRssBytes(ctx.daemonPid).then((r) => (peakRss = Math.max(peakRss, r)));
  }, 50);
  try {
    const t0 = process.hrtime.bigint();
    const s = await client.stream('exec.stream', { command: producer(bytes), timeout_s: 0 });
    let got = 0;
    let gaps = 0;
    for await (const ev of s.events) {
      if (ev.event === 'stdout') got += String(ev.data).length;
      else if (ev.event === 'gap') gaps += Number(ev.dropped_bytes);
      else if (ev.event === 'error') throw new Error(`stream error: ${JSON.stringify(ev.data)}`);
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (got + gaps !== bytes) throw new Error(`trl streamed ${got} bytes and ${gaps} dropped, expected ${bytes}`);
    return { mbps: got / MB / secs, peakRss, gaps };
  } finally {
    clearInterval(sampler);
    client.close();
  }
}

/** Streaming a 1 GiB output to a client vs `cat` through a pipe, and the daemon's peak RSS meanwhile. */
export async function measureStreaming(ctx: MetricContext): Promise<MetricResult> {
  const bytes = ctx.options.quick ? 64 * MB : GIB;
  const base = await baseline(bytes);
  const trl = await throughTrl(ctx, bytes);
  return {
    rows: [
      makeRow(`streaming ${bytes / MB} MiB to a client`, 'MB/s', { kind: 'ratio-min', limit: 0.3 }, trl.mbps, base),
      makeRow('daemon peak RSS while streaming', 'MB', { kind: 'value-max', limit: 200, unit: 'MB' }, trl.peakRss / MB),
    ],
    data: { bytes, baseline_mb_per_s: base, trl_mb_per_s: trl.mbps, peak_rss_bytes: trl.peakRss, gap_bytes: trl.gaps },
  };
}
