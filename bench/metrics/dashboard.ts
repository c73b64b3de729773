import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { TrlClient } from '../../src/client/client.js';
import { startDaemon } from '../lib/daemon.js';
import { readRssBytes, sleep } from '../lib/proc.js';
import { makeRow } from '../lib/row.js';
import type { MetricContext, MetricResult } from './metric.js';

const SESSIONS = 50;
const MB = 1024 * 1024;
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const CLK_TCK = 100;
const CHROMIUM = '/usr/bin/chromium';

/** About 1 MiB/s of printable lines, forever: 64 KiB every 1/16 s. */
const PRODUCER = `perl -e '$|=1; my $b = ("x" x 1023) . "\\n"; while (1) { print $b x 64; select(undef, undef, undef, 0.0625) }'`;

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The daemon's CPU (% of one core) and RSS (mean and peak) over `seconds`. */
async function window(pid: number, seconds: number): Promise<{ cpuPct: number; rssMean: number; rssPeak: number }> {
  const t0 = process.hrtime.bigint();
  const c0 = await cpuTicks(pid);
  const samples: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    samples.push(await readRssBytes(pid));
    await sleep(100);
  }
  const c1 = await cpuTicks(pid);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { cpuPct: ((c1 - c0) / CLK_TCK / secs) * 100, rssMean: samples.reduce((a, b) => a + b, 0) / samples.length, rssPeak: Math.max(...samples) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A one-use login URL from the daemon (what `trl dashboard` prints). */
async function loginUrl(base: string, token: string): Promise<string> {
  const res = await fetch(`${base}/dashboard/ticket`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: '{}' });
  const body = (await res.json()) as { data?: { login_path: string } };
  if (!body.data) throw new Error(`no dashboard ticket: ${res.status}`);
  return base + body.data.login_path;
}

/** One open dashboard showing one command: the real page in Chromium where it is installed, else the page's protocol spoken by hand. */
async function openViewer(base: string, token: string, commandId: string): Promise<{ kind: string; close: () => Promise<void> }> {
  const url = await loginUrl(base, token);
  if (existsSync(CHROMIUM)) {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(url);
    await page.waitForSelector('[data-testid="link"].live');
    await page.click(`#command-${commandId}`);
    await page.waitForFunction(() => (document.querySelector('[data-testid="plain"]')?.textContent ?? '').length > 0);
    return { kind: 'chromium page', close: () => browser.close() };
  }
  const login = await fetch(url, { redirect: 'manual' });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const ws = new WebSocket(`${base.replace('http', 'ws')}/dashboard/ws`, ['trl.v1'], { headers: { Cookie: cookie }, origin: base });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('message', () => undefined);
  ws.send(JSON.stringify({ id: 1, method: 'exec.attach', params: { command_id: commandId, from_offset: 0 } }));
  return {
    kind: 'protocol client (no Chromium here)',
    close: async () => {
      ws.close();
      await new Promise((r) => ws.once('close', r));
    },
  };
}

/**
 * 50 sessions each printing 1 MiB/s: the daemon's CPU and RSS with no viewer,
 * then with one dashboard open (showing one of the commands, its feed of
 * snapshots live), under the same load. A daemon of its own (HTTP and the
 * dashboard on), started after the socket daemon's rows.
 */
export async function measureDashboard(ctx: MetricContext): Promise<MetricResult> {
  const seconds = ctx.options.quick ? 3 : 6;
  const token = randomBytes(32).toString('hex');
  const port = await freePort();
  const daemon = await startDaemon({
    env: { TRL_AUTH_TOKEN: token, TRL_MAX_SESSIONS: '1024' },
    args: ['--tiers', 'host', '--http', `127.0.0.1:${port}`, '--dashboard', '--dashboard-max-viewers', '2'],
  });
  const base = `http://127.0.0.1:${port}`;
  const client = await TrlClient.connect({ socketPath: daemon.socketPath });
  try {
    const commands: string[] = [];
    const started = Date.now();
    for (let i = 0; i < SESSIONS; i++) {
      const s = await client.call('session.create', { name: `load-${i}` });
      commands.push((await client.call('exec.start', { session_id: s.session_id, command: PRODUCER })).command_id);
    }
    // Until every buffer is at max_output_bytes (4 MiB at 1 MiB/s), RSS only climbs: measure after.
    await sleep(6000);
    const alone = await window(daemon.pid, seconds);
    const shown = commands[0];
    if (shown === undefined) throw new Error('no command was started');
    const viewer = await openViewer(base, token, shown);
    let watched;
    try {
      await sleep(2000);
      watched = await window(daemon.pid, seconds);
    } finally {
      await viewer.close();
    }
    let printed = 0;
    for (const id of commands) printed += (await client.call('exec.info', { command_id: id })).stdout_bytes;
    // What the producers really managed on this machine (a loaded one prints less than 1 MiB/s).
    const perSession = printed / SESSIONS / MB / ((Date.now() - started) / 1000);
    return {
      rows: [
        makeRow(`daemon CPU, ${SESSIONS} sessions × 1 MiB/s, one dashboard open vs none`, '% core', { kind: 'none' }, watched.cpuPct, alone.cpuPct),
        makeRow(`daemon RSS, ${SESSIONS} sessions × 1 MiB/s, one dashboard open vs none`, 'MB', { kind: 'none' }, watched.rssMean / MB, alone.rssMean / MB),
      ],
      data: { sessions: SESSIONS, seconds, viewer: viewer.kind, no_viewer: alone, one_viewer: watched, bytes_printed: printed, mib_per_s_per_session: perSession },
    };
  } finally {
    client.close();
    await daemon.stop();
  }
}
