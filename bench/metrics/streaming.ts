import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { TrlClient } from '../../src/client/client.js';
import { startDaemon, type Daemon } from '../lib/daemon.js';
import { freePort } from '../lib/free-port.js';
import { interleavedSamples } from '../lib/interleave.js';
import { readRssBytes, sleep } from '../lib/proc.js';
import { makeRow } from '../lib/row.js';
import type { MetricContext, MetricResult } from './metric.js';

const MB = 1024 * 1024;
/** Settled RSS: the median of this many readings, this far apart, after this long left alone. */
const RSS_READINGS = 5;
const RSS_EVERY_MS = 200;
const SETTLE_MS = 1500;
/** The budget for RSS after the streams (above idle), and how long the daemon gets to come back under it. */
const AFTER_MARGIN = 20 * MB;
const AFTER_DEADLINE_MS = 30_000;
/**
 * A finished command keeps its output (head and tail, up to max_output_bytes
 * per stream) for command_retention_s: by design, bounded, and not what the
 * after-RSS row is about (what streaming itself leaves behind). This daemon
 * forgets finished commands at once.
 */
const STREAMING_ENV = { TRL_COMMAND_RETENTION_S: '0' };

/** The producer on every side: zero bytes (base64 events carry them exactly). */
const producer = (bytes: number) => `head -c ${bytes} /dev/zero`;

/** Baseline: the producer piped through `cat` and read by this process (`head -c N /dev/zero | cat` into Node). */
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
  return secondsSince(t0);
}

function secondsSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** exec.stream with base64 events, every event parsed by the SDK; bytes counted from the base64 length (no decode). */
async function viaEvents(client: TrlClient, sessionId: string, bytes: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const s = await client.stream('exec.stream', { session_id: sessionId, command: producer(bytes), timeout_s: 0, encoding: 'base64' });
  let got = 0;
  for await (const ev of s.events) {
    if (ev.event === 'stdout') got += base64Bytes(String(ev.data));
    else if (ev.event === 'gap') throw new Error(`exec.stream lost ${String(ev.dropped_bytes)} bytes`);
    else if (ev.event === 'error') throw new Error(`stream error: ${JSON.stringify(ev.data)}`);
  }
  if (got !== bytes) throw new Error(`exec.stream delivered ${got} bytes, expected ${bytes}`);
  return secondsSince(t0);
}

function base64Bytes(text: string): number {
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - pad;
}

/**
 * A command whose output waits for a raw reader: it starts (exec.start) held
 * on its stdin, the reader attaches, then stdin is closed and the producer
 * runs, so no byte is produced before anyone reads.
 */
async function startHeld(client: TrlClient, sessionId: string, bytes: number): Promise<{ commandId: string; release: () => Promise<void> }> {
  const r = await client.call('exec.start', { session_id: sessionId, command: `read _ || true; ${producer(bytes)}`, stdin_open: true, timeout_s: 0 });
  return { commandId: r.command_id, release: async () => void (await client.call('exec.input', { command_id: r.command_id, eof: true })) };
}

/** exec.pipe on a connection of its own: one JSON line, then raw bytes until the connection ends. */
async function viaUnixRaw(client: TrlClient, socketPath: string, sessionId: string, bytes: number): Promise<number> {
  const held = await startHeld(client, sessionId, bytes);
  const t0 = process.hrtime.bigint();
  const sock = connect(socketPath);
  let got = -1;
  const ended = new Promise<void>((resolve, reject) => {
    let answered = false;
    sock.on('data', (d: Buffer) => {
      if (answered) return void (got += d.length);
      const nl = d.indexOf(0x0a);
      if (nl < 0) return reject(new Error('exec.pipe: the answer did not fit in the first read'));
      const answer = JSON.parse(d.subarray(0, nl).toString()) as { ok: boolean };
      if (!answer.ok) return reject(new Error(`exec.pipe failed: ${d.subarray(0, nl).toString()}`));
      answered = true;
      got = d.length - nl - 1;
      void held.release();
    });
    sock.on('error', reject);
    sock.on('close', () => resolve());
  });
  sock.write(JSON.stringify({ id: 1, method: 'exec.pipe', params: { command_id: held.commandId } }) + '\n');
  await ended;
  if (got !== bytes) throw new Error(`exec.pipe delivered ${got} bytes, expected ${bytes}`);
  return secondsSince(t0);
}

/** GET …/output over HTTP: chunked raw bytes until the command is complete. */
async function viaHttpRaw(client: TrlClient, port: number, token: string, sessionId: string, bytes: number): Promise<number> {
  const held = await startHeld(client, sessionId, bytes);
  const t0 = process.hrtime.bigint();
  let got = 0;
  let end: string | undefined;
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/v1/sessions/${sessionId}/commands/${held.commandId}/output`, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET output answered ${res.statusCode}`));
      void held.release();
      res.on('data', (d: Buffer) => (got += d.length));
      res.on('end', () => {
        end = res.trailers['x-trl-end'];
        resolve();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  if (got !== bytes || end !== 'eof') throw new Error(`GET output delivered ${got} bytes (end: ${end}), expected ${bytes} and eof`);
  return secondsSince(t0);
}

/**
 * The daemon's RSS once it has given back what the streams left: polled until
 * it is within `margin` of `idle` or `deadlineMs` pass (an idle V8 collects
 * the streams' garbage buffers only when its memory reducer runs, some
 * seconds after allocation stopped); the last reading.
 */
async function rssAfter(pid: number, idle: number, margin: number, deadlineMs: number): Promise<{ rss: number; waitedMs: number }> {
  const t0 = Date.now();
  for (;;) {
    const rss = await readRssBytes(pid);
    if (rss - idle <= margin || Date.now() - t0 >= deadlineMs) return { rss, waitedMs: Date.now() - t0 };
    await sleep(500);
  }
}

/** The median of a few RSS readings of a daemon left alone for a moment. */
async function settledRss(pid: number): Promise<number> {
  await sleep(SETTLE_MS);
  const readings: number[] = [];
  for (let i = 0; i < RSS_READINGS; i++) {
    readings.push(await readRssBytes(pid));
    await sleep(RSS_EVERY_MS);
  }
  return median(readings);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** MB/s of each sample, and their median. */
function rate(bytes: number, seconds: readonly number[]): { samples: number[]; median: number } {
  const samples = seconds.map((s) => bytes / MB / s);
  return { samples, median: median(samples) };
}

/**
 * Streaming a large output to a client, three ways, each against `head -c N
 * /dev/zero | cat` read by this process, several samples per side in
 * alternating order: exec.stream with base64 events (parsed by the SDK), and
 * the raw byte routes (exec.pipe on the Unix socket, GET …/output over
 * HTTP). The daemon is its own (it needs --http); its RSS is read settled
 * before, sampled throughout (peak), and read settled after.
 */
export async function measureStreaming(ctx: MetricContext, daemonEnv: Record<string, string>): Promise<MetricResult> {
  const bytes = ctx.options.quick ? 32 * MB : 256 * MB;
  const n = ctx.options.quick ? 1 : 3;
  const token = randomBytes(32).toString('hex');
  const port = await freePort();
  const daemon: Daemon = await startDaemon({ env: { ...daemonEnv, ...STREAMING_ENV, TRL_AUTH_TOKEN: token }, args: ['--tiers', 'host', '--http', `127.0.0.1:${port}`] });
  const client = await TrlClient.connect({ socketPath: daemon.socketPath });
  let peakRss = 0;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const sessionId = (await client.call('session.create', {})).session_id;
    // One small run of each path first, so that the idle reading is of a daemon that has loaded its code.
    await viaEvents(client, sessionId, MB);
    await viaUnixRaw(client, daemon.socketPath, sessionId, MB);
    await viaHttpRaw(client, port, token, sessionId, MB);
    const idleRss = await settledRss(daemon.pid);
    peakRss = idleRss;
    sampler = setInterval(
      () =>
        void readRssBytes(daemon.pid).then(
          (r) => (peakRss = Math.max(peakRss, r)),
          () => undefined,
        ),
      50,
    );
    const events = await interleavedSamples(
      n,
      1,
      () => viaEvents(client, sessionId, bytes),
      () => baseline(bytes),
    );
    const unix = await interleavedSamples(
      n,
      1,
      () => viaUnixRaw(client, daemon.socketPath, sessionId, bytes),
      () => baseline(bytes),
    );
    const http = await interleavedSamples(
      n,
      1,
      () => viaHttpRaw(client, port, token, sessionId, bytes),
      () => baseline(bytes),
    );
    clearInterval(sampler);
    const after = await rssAfter(daemon.pid, idleRss, AFTER_MARGIN, AFTER_DEADLINE_MS);
    const afterRss = after.rss;
    const base = rate(bytes, [...events.b, ...unix.b, ...http.b]);
    const ev = rate(bytes, events.a);
    const ux = rate(bytes, unix.a);
    const ht = rate(bytes, http.a);
    const mib = bytes / MB;
    return {
      rows: [
        makeRow(`streaming ${mib} MiB, exec.stream base64 events (median of ${n})`, 'MB/s', { kind: 'ratio-min', limit: 0.3 }, ev.median, rate(bytes, events.b).median),
        makeRow(`streaming ${mib} MiB, raw exec.pipe on the Unix socket`, 'MB/s', { kind: 'ratio-min', limit: 0.5 }, ux.median, rate(bytes, unix.b).median),
        makeRow(`streaming ${mib} MiB, raw GET …/output over HTTP`, 'MB/s', { kind: 'ratio-min', limit: 0.5 }, ht.median, rate(bytes, http.b).median),
        makeRow('daemon peak RSS while streaming', 'MB', { kind: 'value-max', limit: 200, unit: 'MB' }, peakRss / MB),
        makeRow('daemon RSS after streaming, above its idle RSS before', 'MB', { kind: 'value-max', limit: 20, unit: 'MB' }, (afterRss - idleRss) / MB),
      ],
      data: {
        bytes,
        samples_per_side: n,
        baseline_mb_per_s: base,
        events_mb_per_s: ev,
        unix_raw_mb_per_s: ux,
        http_raw_mb_per_s: ht,
        idle_rss_bytes: idleRss,
        peak_rss_bytes: peakRss,
        after_rss_bytes: afterRss,
        after_rss_waited_ms: after.waitedMs,
      },
    };
  } finally {
    if (sampler) clearInterval(sampler);
    client.close();
    await daemon.stop();
  }
}
