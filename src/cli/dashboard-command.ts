import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { EXIT } from './exit-codes.js';
import { printJson, warn } from './output.js';

interface DashboardOptions {
  url?: string;
  write?: boolean;
  open?: boolean;
  ttl?: string;
  json?: boolean;
}

const HELP_AFTER = `
Asks the daemon (served with --http … --dashboard) for a one-use link to its
live dashboard and prints it: the link works once, within a minute (--ttl
shortens that), and gives the browser a session cookie; the token never
appears in it. --write asks for a page that may type into, signal and cancel
commands; the daemon must run with --dashboard-write. The token comes from
TRL_AUTH_TOKEN. See docs/dashboard.md.`;

/** `trl dashboard`: mint a dashboard ticket with the bearer token and print (or open) its link. */
export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('print (or open) a one-use link to the daemon’s live web dashboard')
    .option('--url <url>', 'the daemon’s --http address (http://127.0.0.1:8080) (env TRL_URL)', process.env.TRL_URL)
    .option('--write', 'a page that may type into, signal and cancel commands (needs the daemon’s --dashboard-write)')
    .option('--open', 'open the link in the browser (xdg-open / open) instead of only printing it')
    .option('--ttl <seconds>', 'the link expires after this many seconds (at most 60)')
    .option('--json', 'print the ticket as JSON')
    .addHelpText('after', HELP_AFTER)
    .action(async (opts: DashboardOptions) => {
      process.exitCode = await dashboard(opts);
    });
}

async function dashboard(opts: DashboardOptions): Promise<number> {
  if (!opts.url) {
    warn('give the daemon’s HTTP address: trl dashboard --url http://127.0.0.1:8080 (or set TRL_URL); the dashboard is served over --http only');
    return EXIT.USAGE;
  }
  let base: URL;
  try {
    base = new URL(opts.url.replace(/^ws(s?):/, 'http$1:'));
  } catch {
    warn(`--url '${opts.url}' is not a URL; write it as http://HOST:PORT`);
    return EXIT.USAGE;
  }
  const token = process.env.TRL_AUTH_TOKEN ?? '';
  if (token === '') {
    warn('TRL_AUTH_TOKEN is not set: the dashboard link is minted with the daemon’s bearer token; export it first');
    return EXIT.USAGE;
  }
  const ttl = opts.ttl === undefined ? undefined : Number(opts.ttl);
  if (ttl !== undefined && !(Number.isFinite(ttl) && ttl > 0)) {
    warn(`--ttl '${opts.ttl}' is not a positive number of seconds`);
    return EXIT.USAGE;
  }
  let answer: { ok?: boolean; data?: { login_path: string; grant: string; expires_at: string }; error?: { code?: string; message?: string } };
  try {
    const res = await fetch(new URL('/dashboard/ticket', base.origin), {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ write: opts.write === true, ...(ttl !== undefined ? { ttl_s: ttl } : {}) }),
    });
    answer = (await res.json()) as typeof answer;
    if (res.status === 404) answer = { ok: false, error: { message: 'this daemon serves no dashboard; start it with --dashboard (TRL_DASHBOARD=1) beside --http' } };
  } catch (err) {
    warn(`cannot reach the daemon at ${base.origin} (${err instanceof Error ? err.message : String(err)}); is it running with --http and --dashboard?`);
    return EXIT.FAILURE;
  }
  if (!answer.ok || !answer.data) {
    warn(`${answer.error?.code ? answer.error.code + ': ' : ''}${answer.error?.message ?? 'the daemon refused a dashboard ticket'}`);
    return EXIT.FAILURE;
  }
  const link = new URL(answer.data.login_path, base.origin).toString();
  if (opts.json) printJson({ url: link, grant: answer.data.grant, expires_at: answer.data.expires_at });
  else process.stdout.write(`${link}\n(${answer.data.grant === 'write' ? 'read and write' : 'read-only'}; works once, until ${answer.data.expires_at})\n`);
  if (opts.open) openInBrowser(link);
  return EXIT.OK;
}

function openInBrowser(link: string): void {
  const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
  const child = spawn(opener, [link], { stdio: 'ignore', detached: true });
  child.on('error', () => warn(`could not run ${opener}; open the link above yourself`));
  child.unref();
}
