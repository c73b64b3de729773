/** Command-line options of `npm run bench:soak`. */
export interface SoakOptions {
  /** How long the workload runs. */
  minutes: number;
  /** Operations started per second (each is 1–5 requests; see workload.ts). */
  rate: number;
  /** Client connections the operations are spread over. */
  clients: number;
  /** Seconds between samples of the daemon's RSS and fds. */
  sampleSeconds: number;
  /** Operations in flight at most; beyond it a due operation is skipped (and counted). */
  maxInFlight: number;
}

export const SOAK_USAGE = `usage: node dist/bench/soak.js [--minutes N] [--rate R] [--clients C]

  --minutes N   how long the mixed workload runs (default 10)
  --rate R      operations started per second, spread over the clients (default 50)
  --clients C   client connections (default 4)

Starts its own daemon, checks every result against what it must be, samples the
daemon's RSS and fds every 5 s, prints a summary and writes
bench/results/soak-<timestamp>.json. Exits 1 if any result was wrong or lost, a
request failed unexpectedly, or the daemon leaked sessions, commands or zombies.`;

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number, got ${value ?? 'nothing'}\n${SOAK_USAGE}`);
  return n;
}

export function parseSoakArgs(argv: readonly string[]): SoakOptions | 'help' {
  const o: SoakOptions = { minutes: 10, rate: 50, clients: 4, sampleSeconds: 5, maxInFlight: 512 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--minutes') o.minutes = positive(arg, argv[++i]);
    else if (arg === '--rate') o.rate = positive(arg, argv[++i]);
    else if (arg === '--clients') o.clients = Math.round(positive(arg, argv[++i]));
    else if (arg === '--help' || arg === '-h') return 'help';
    else throw new Error(`unknown option ${arg}\n${SOAK_USAGE}`);
  }
  return o;
}
