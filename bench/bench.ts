/**
 * `npm run bench`: the docs/benchmarks.md performance budget, measured against a real
 * daemon side by side with the physical baseline in the same run.
 */
import { parseArgs, USAGE, type BenchOptions } from './lib/args.js';
import { REPO_ROOT, startDaemon, type Daemon } from './lib/daemon.js';
import { machineInfo } from './lib/machine.js';
import { readRssBytes } from './lib/proc.js';
import { writeResults } from './lib/results.js';
import { errorRow, type Row } from './lib/row.js';
import { renderTable } from './lib/table.js';
import { withTimeout } from './lib/timeout.js';
import { measureCliPing } from './metrics/cli-ping.js';
import { measureDashboard } from './metrics/dashboard.js';
import { measureFiles } from './metrics/files.js';
import { openHostSession } from './metrics/host-session.js';
import { measureMcpRoundTrip } from './metrics/mcp-round-trip.js';
import { measureLargeResult } from './metrics/large-result.js';
import { measureMemory } from './metrics/memory.js';
import type { MetricContext, MetricResult } from './metrics/metric.js';
import { measureRoundTrip } from './metrics/round-trip.js';
import { measureSessionCreate } from './metrics/session-create.js';
import { measureStreaming } from './metrics/streaming.js';
import { measureThroughput } from './metrics/throughput.js';
import { runTierPhase } from './metrics/tiers.js';

/** Settings that let the bench go past the daemon's per-session command cap and session cap. */
const DAEMON_ENV = {
  TRL_MAX_SESSIONS: '1024',
  TRL_SESSION_MAX_COMMANDS: '100000000',
};

/**
 * The host daemon offers the host tier alone, so its rows (idle RSS above all)
 * measure the same daemon whichever tiers this machine has; the isolation
 * tiers get daemons of their own (metrics/tiers.ts) after it has stopped.
 */
const DAEMON_ARGS = ['--tiers', 'host'];

const METRIC_TIMEOUT_MS = 10 * 60 * 1000;

const METRICS: ReadonlyArray<{ key: string; title: string; run: (ctx: MetricContext) => Promise<MetricResult> }> = [
  { key: 'memory', title: 'idle RSS (default tiers) and RSS per idle session', run: (ctx) => measureMemory(ctx, DAEMON_ENV) },
  { key: 'round_trip', title: 'exec.run round trip vs bare spawn', run: measureRoundTrip },
  { key: 'throughput', title: 'commands/s with concurrent clients vs bare spawns', run: measureThroughput },
  { key: 'session_create', title: 'session.create latency', run: measureSessionCreate },
  { key: 'streaming', title: 'streaming 256 MiB to a client (events, raw Unix, raw HTTP) vs cat through a pipe', run: (ctx) => measureStreaming(ctx, DAEMON_ENV) },
  { key: 'large_result', title: 'exec.run returning 4 MiB vs a bare spawn collecting it', run: measureLargeResult },
  { key: 'cli_ping', title: '`trl ping` CLI process vs `node -e 0`', run: measureCliPing },
  { key: 'mcp', title: 'MCP tool call round trip (stdio, HTTP) vs exec.run', run: (ctx) => measureMcpRoundTrip(ctx, DAEMON_ENV) },
  { key: 'files', title: 'fs.read of 1 MiB vs cat, fs.grep over 10,000 files vs grep -rn', run: measureFiles },
  { key: 'dashboard', title: 'daemon CPU and RSS, 50 sessions × 1 MiB/s, one dashboard open vs none', run: measureDashboard },
];

/** The keys `--only` accepts. */
const KEYS = [...METRICS.map((m) => m.key), 'tiers', 'sandbox'];

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Untimed exec.run calls so that the daemon's code paths are compiled before anything is measured. */
async function warmUp(socketPath: string, options: BenchOptions): Promise<void> {
  const session = await openHostSession(socketPath);
  try {
    for (let i = 0; i < options.warmup * 2; i++) await session.runTrue();
  } finally {
    await session.close();
  }
}

async function main(): Promise<number> {
  const benchStarted = performance.now();
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const options = parsed;
  const unknown = (options.only ?? []).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0) throw new Error(`--only: unknown metric ${unknown.join(', ')}; the metrics are ${KEYS.join(', ')}`);
  const wanted = (key: string) => options.only === null || options.only.includes(key);
  const timestamp = new Date().toISOString();
  const machine = machineInfo();
  log(`${machine.cpus} cpus, node ${machine.node}, kernel ${machine.kernel}${options.quick ? ' (quick run: figures are not meaningful)' : ''}`);

  const rows: Row[] = [];
  const metrics: Record<string, unknown> = {};
  const errors: Array<{ metric: string; error: string }> = [];
  let daemon: Daemon | undefined;
  let shutdown: Awaited<ReturnType<Daemon['stop']>> | undefined;
  let finalRss: number | undefined;

  let warmedUp = false;
  try {
    daemon = await startDaemon({ env: DAEMON_ENV, args: DAEMON_ARGS });
    log(`daemon pid ${daemon.pid} on ${daemon.socketPath}`);
    const ctx: MetricContext = { socketPath: daemon.socketPath, daemonPid: daemon.pid, options };
    for (const metric of METRICS.filter((m) => wanted(m.key))) {
      // Memory is read on the fresh daemon (an idle daemon, not one holding warm-up results); the rest after warm-up.
      if (metric.key !== 'memory' && !warmedUp) {
        await warmUp(daemon.socketPath, options);
        warmedUp = true;
      }
      log(`${metric.title}…`);
      const started = performance.now();
      try {
        const result = await withTimeout(metric.run(ctx), METRIC_TIMEOUT_MS, metric.title);
        rows.push(...result.rows);
        const seconds = (performance.now() - started) / 1000;
        metrics[metric.key] = { ...result.data, duration_s: seconds };
        log(`${metric.title}: ${seconds.toFixed(0)} s`);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`${metric.title} failed: ${message}`);
        rows.push(errorRow(metric.title, err));
        errors.push({ metric: metric.key, error: message });
      }
    }
    finalRss = await readRssBytes(daemon.pid).catch(() => undefined);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`could not run: ${message}`);
    errors.push({ metric: 'setup', error: message });
  } finally {
    if (daemon) {
      shutdown = await daemon.stop();
      if (shutdown.forced || shutdown.code !== 0) {
        const message = `the daemon did not exit cleanly on SIGTERM (code ${shutdown.code}, signal ${shutdown.signal}, forced ${shutdown.forced})`;
        log(message);
        errors.push({ metric: 'shutdown', error: message });
      }
    }
  }

  if (wanted('tiers') || wanted('sandbox')) {
    log('isolation tiers…');
    const tierPhase = await runTierPhase(options, DAEMON_ENV, log, wanted('tiers') ? 'all' : 'sandbox');
    rows.push(...tierPhase.rows);
    metrics.tiers = tierPhase.data;
    errors.push(...tierPhase.errors);
  }

  if (rows.length > 0) process.stdout.write(renderTable(rows) + '\n');
  const skipped = rows.filter((r) => r.skipped !== undefined);

  const record = {
    timestamp,
    quick: options.quick,
    options,
    machine,
    daemon: { pid: daemon?.pid ?? null, env: DAEMON_ENV, args: DAEMON_ARGS, final_rss_bytes: finalRss ?? null, shutdown: shutdown ?? null },
    rows,
    metrics,
    errors,
    // Rows of an unavailable tier are not counted against the budget; `skipped` lists them.
    within_budget: rows.length > skipped.length && rows.every((r) => r.ok === true || r.skipped !== undefined),
    skipped: skipped.map((r) => ({ metric: r.metric, why: r.skipped })),
  };
  const durationS = (performance.now() - benchStarted) / 1000;
  const file = await writeResults(REPO_ROOT, timestamp, { ...record, duration_s: durationS });
  if (skipped.length > 0) log(`${skipped.length} rows skipped: a tier they need is unavailable here (see the table)`);
  log(`results written to ${file} and bench/results/latest.json`);
  log(`the bench took ${durationS.toFixed(0)} s`);
  return errors.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
