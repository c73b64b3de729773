/**
 * `npm run bench:soak`: a long mixed workload against a daemon of its own —
 * exec.run of small commands with known output, sessions created and
 * destroyed, background exec.start + exec.wait, streams, timeouts and
 * cancels — at a fixed rate from a few clients. Every result is checked
 * against what it must be; the daemon's RSS and fds are sampled every 5 s.
 * Exits 1 on any wrong or lost result (or unexpected error, or leak).
 */
import { TrlClient } from '../src/client/client.js';
import { REPO_ROOT, startDaemon, type Daemon } from './lib/daemon.js';
import { machineInfo } from './lib/machine.js';
import { sleep } from './lib/proc.js';
import { parseSoakArgs, SOAK_USAGE } from './soak/args.js';
import { latencySummaries, renderSummary, resourceRange, writeSoakResults, type SoakSummary } from './soak/report.js';
import { startSampler, takeSample, type Sample } from './soak/sampler.js';
import { Tracker } from './soak/tracker.js';
import { MIX, pickKind, runOperation, SessionPool } from './soak/workload.js';

/** Room for the pools of every client and for a long run's worth of commands. */
const DAEMON_ENV = { TRL_MAX_SESSIONS: '1024', TRL_SESSION_MAX_COMMANDS: '100000000' };
const TICK_MS = 10;
/** After the workload stops, how long outstanding requests may take before they count as lost. */
const DRAIN_MS = 60_000;
/** A request unanswered this long during the run is reported (and counts as lost if it never comes). */
const STUCK_MS = 60_000;

function log(message: string): void {
  process.stderr.write(`soak: ${message}\n`);
}

async function main(): Promise<number> {
  const parsed = parseSoakArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(SOAK_USAGE + '\n');
    return 0;
  }
  const options = parsed;
  const timestamp = new Date().toISOString();
  const machine = machineInfo();
  log(`${options.minutes} min at ${options.rate} operations/s over ${options.clients} clients; ${machine.cpus} cpus, node ${machine.node}`);

  const tracker = new Tracker();
  const samples: Sample[] = [];
  const leaks: string[] = [];
  let lost = 0;
  let daemon: Daemon | undefined;
  let shutdown: Awaited<ReturnType<Daemon['stop']>> | undefined;
  let setupError: string | null = null;
  let workloadMs = 0;

  try {
    daemon = await startDaemon({ env: DAEMON_ENV });
    log(`daemon pid ${daemon.pid} on ${daemon.socketPath}`);
    const { socketPath } = daemon;
    const control = await TrlClient.connect({ socketPath });
    const clients = await Promise.all(Array.from({ length: options.clients }, () => TrlClient.connect({ socketPath })));
    const pools = clients.map((c) => new SessionPool(c, tracker));

    const startedAt = Date.now();
    samples.push(await takeSample(daemon.pid, control, startedAt));
    const stopSampler = startSampler(daemon.pid, control, startedAt, options.sampleSeconds, (s) => {
      if (s.t > 0) samples.push(s);
    });
    const progress = setInterval(() => {
      const last = samples[samples.length - 1];
      const stuck = tracker.stuckLongerThan(STUCK_MS);
      const [oldest] = stuck;
      log(
        `${Math.round((Date.now() - startedAt) / 1000)} s: ${tracker.completed}/${tracker.operations} operations, ${tracker.requests} requests, ` +
          `errors ${tracker.errors}, wrong ${tracker.wrong}, refused ${tracker.refused}, in flight ${tracker.inFlight}, ` +
          `RSS ${last?.rss_bytes ? (last.rss_bytes / 1048576).toFixed(1) : '?'} MB, fds ${last?.fds ?? '?'}` +
          (oldest ? `, ${stuck.length} requests unanswered for over ${STUCK_MS / 1000} s (oldest: ${oldest.kind} ${oldest.method})` : ''),
      );
    }, 30_000);

    // open loop: operations are due at a fixed rate whether or not earlier ones have finished
    const durationMs = options.minutes * 60_000;
    let issued = 0;
    const t0 = performance.now();
    for (;;) {
      const elapsed = performance.now() - t0;
      if (elapsed >= durationMs) break;
      const due = Math.floor((elapsed / 1000) * options.rate) - issued;
      for (let i = 0; i < due; i++) {
        issued++;
        if (tracker.inFlight >= options.maxInFlight) {
          tracker.skipped++;
          continue;
        }
        const k = issued % options.clients;
        // never rejects: the tracker classifies how each operation ended
        void runOperation(pickKind(), clients[k]!, pools[k]!, tracker);
      }
      await sleep(TICK_MS);
    }
    workloadMs = performance.now() - t0;
    log(`workload over after ${Math.round(workloadMs / 1000)} s; waiting up to ${DRAIN_MS / 1000} s for ${tracker.inFlight} operations in flight`);
    const drainUntil = Date.now() + DRAIN_MS;
    while (tracker.inFlight > 0 && Date.now() < drainUntil) await sleep(50);
    const outstanding = tracker.outstanding();
    lost = outstanding.length;
    for (const p of outstanding.slice(0, 20)) tracker.example('lost', `${p.kind}: ${p.method}, sent ${Math.round((Date.now() - p.sentAt) / 1000)} s ago`);
    clearInterval(progress);
    await stopSampler();

    // afterwards: nothing of the workload may remain
    for (const pool of pools) await pool.destroyAll();
    for (const c of clients) c.close();
    let final = await takeSample(daemon.pid, control, startedAt);
    const settleUntil = Date.now() + 10_000;
    while ((final.active_sessions !== 0 || final.running_commands !== 0 || final.zombie_children !== 0) && Date.now() < settleUntil) {
      await sleep(200);
      final = await takeSample(daemon.pid, control, startedAt);
    }
    samples.push(final);
    if (final.active_sessions !== 0) leaks.push(`${final.active_sessions} sessions still live`);
    if (final.running_commands !== 0) leaks.push(`${final.running_commands} commands still running`);
    if (final.zombie_children !== 0) leaks.push(`${final.zombie_children} zombie children`);
    control.close();
  } catch (err) {
    setupError = err instanceof Error ? err.message : String(err);
    log(`could not run: ${setupError}`);
  } finally {
    if (daemon) {
      shutdown = await daemon.stop();
      if (shutdown.forced || shutdown.code !== 0) leaks.push(`the daemon did not exit cleanly on SIGTERM (code ${shutdown.code}, signal ${shutdown.signal})`);
    }
  }

  const summary: SoakSummary = {
    requests: tracker.requests,
    operations: tracker.operations,
    errors: tracker.errors,
    refused: tracker.refused,
    wrong: tracker.wrong,
    lost,
    skipped: tracker.skipped,
    leaks,
    rss: resourceRange(samples, (s) => s.rss_bytes),
    fds: resourceRange(samples, (s) => s.fds),
    latency_ms: latencySummaries(tracker.latencies),
  };
  const header = `soak: ${options.minutes} min at ${options.rate} operations/s, ${options.clients} clients (${Math.round(workloadMs / 1000)} s of workload)`;
  process.stdout.write(renderSummary(summary, header) + '\n');
  for (const [what, list] of Object.entries(tracker.examples)) for (const e of list) process.stdout.write(`  ${what}: ${e}\n`);

  const passed = setupError === null && summary.wrong === 0 && summary.lost === 0 && summary.errors === 0 && leaks.length === 0;
  const record = {
    timestamp,
    options,
    machine,
    mix: Object.fromEntries(MIX),
    daemon: { pid: daemon?.pid ?? null, env: DAEMON_ENV, shutdown: shutdown ?? null },
    setup_error: setupError,
    summary,
    examples: tracker.examples,
    samples,
    passed,
  };
  const file = await writeSoakResults(REPO_ROOT, timestamp, record);
  log(`results written to ${file}`);
  log(passed ? 'PASS' : 'FAIL');
  return passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
