/** Command-line options of `npm run bench`. */
export interface BenchOptions {
  quick: boolean;
  /** Timed samples per side for round-trip metrics (exec.run, session.create). */
  iterations: number;
  /** Untimed calls per side before measuring. */
  warmup: number;
  /** Samples per alternating block; blocks of trl and baseline take turns. */
  blockSize: number;
  /** Seconds each side runs in the 8-client throughput test. */
  throughputSeconds: number;
  /** Number of alternating blocks per side in the throughput test. */
  throughputBlocks: number;
  /** Concurrent clients in the throughput test. */
  concurrency: number;
  /** Sessions created to measure RSS per idle session. */
  idleSessions: number;
  /** Milliseconds the daemon is left alone before reading its RSS. */
  idleMs: number;
  /** Timed samples per side for the sandbox exec.run round trip (three sides of 20–30 ms each). */
  sandboxIterations: number;
  /** Timed sandbox session.create calls (each followed by an untimed destroy). */
  sandboxCreates: number;
  /** Timed samples per side for the MCP tool calls (reported, no budget). */
  mcpIterations: number;
  /** Timed samples per side for the docker exec.run round trip (a `docker exec` costs tens of ms). */
  dockerIterations: number;
  /** Untimed calls per side before the docker round trips. */
  dockerWarmup: number;
  /** Timed docker session.create calls, cold and from the warm pool (each starts a container). */
  containerCreates: number;
  /** Run only these metrics (their keys; `tiers` for the isolation-tier rows); null: all. */
  only: string[] | null;
}

const USAGE = `usage: node dist/bench/bench.js [--quick] [--iterations N] [--duration SECONDS] [--only KEYS]

  --quick           fast smoke run (few samples; figures are not meaningful)
  --iterations N    timed samples per side for round trips (default 1000; the
                    sandbox round trip takes N/3, the MCP calls N/4, the docker
                    round trip N/15, sandbox session.create N/10)
  --duration S      seconds per side for the 8-client throughput test (default 5)
  --only KEYS       comma-separated metrics to run, of: memory, round_trip,
                    throughput, session_create, streaming, large_result,
                    cli_ping, mcp, files, dashboard, tiers, sandbox (the
                    sandbox rows of tiers alone) (default: all)`;

function positiveNumber(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n <= 0) {
    throw new Error(`${flag} needs a positive number, got ${value ?? 'nothing'}\n${USAGE}`);
  }
  return n;
}

export function parseArgs(argv: readonly string[]): BenchOptions | 'help' {
  let quick = false;
  let iterations: number | undefined;
  let duration: number | undefined;
  let only: string[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--iterations') iterations = Math.round(positiveNumber(arg, argv[++i]));
    else if (arg === '--duration') duration = positiveNumber(arg, argv[++i]);
    else if (arg === '--only') {
      const value = argv[++i];
      if (!value) throw new Error(`--only needs metric keys, e.g. --only mcp,round_trip\n${USAGE}`);
      only = value
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k.length > 0);
    } else if (arg === '--help' || arg === '-h') return 'help';
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  const n = iterations ?? (quick ? 100 : 1000);
  return {
    quick,
    iterations: n,
    warmup: quick ? 20 : 100,
    blockSize: Math.max(1, Math.min(quick ? 25 : 50, Math.floor(n / 4))),
    // Blocks of a second or more: shorter ones let a neighbour's burst decide a block's ratio.
    throughputSeconds: duration ?? (quick ? 0.6 : 5),
    throughputBlocks: quick ? 2 : 5,
    concurrency: 8,
    // Enough that a few hundred KiB of heap noise moves the per-session figure by under 1 KiB.
    idleSessions: 500,
    idleMs: 1000,
    // The tiers' samples are slow (20 ms to 200 ms each): fewer of them keep the whole bench under 5 minutes.
    sandboxIterations: quick ? 50 : Math.max(50, Math.round(n / 3)),
    sandboxCreates: quick ? 20 : Math.max(20, Math.round(n / 10)),
    mcpIterations: quick ? 50 : Math.max(50, Math.round(n / 4)),
    dockerIterations: quick ? 20 : Math.max(20, Math.round(n / 15)),
    dockerWarmup: quick ? 3 : 10,
    containerCreates: quick ? 3 : 10,
    only,
  };
}

export { USAGE };
