/**
 * The live dashboard in a real headless Chromium (Debian's chromium, driven by
 * playwright-core): the page lists what the API created, output is pushed as
 * it is printed, a reload replays a command's buffer, a PTY program renders as
 * xterm's own headless model renders the same bytes, and a read-only page
 * cannot type. Screenshots of the main views go to test-results/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import headless from '@xterm/headless';
import type { Browser, Page } from 'playwright-core';
import { MAIN_JS, makeTempDir } from './helpers/daemon.js';
import { call, chromiumMissing, launchChromium, loginUrl, mintTicket, openDashboard, RESULTS_DIR, screenshotPath } from './helpers/dashboard.js';
import { useHttpDaemon } from './helpers/fixture.js';
import { type HttpDaemon } from './helpers/http.js';
import { waitFor } from './helpers/wait.js';

const missing = chromiumMissing();
if (missing) console.log(`# skipping the dashboard browser tests: ${missing}`);

/** The text of the page's xterm rows (the DOM renderer's), right-trimmed. */
function pageScreen(page: Page): Promise<string[]> {
  return page.$$eval('[data-testid="term"] .xterm-rows > div', (rows) => rows.map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()));
}

/** xterm's own rendering (@xterm/headless) of the same bytes at the same size. */
async function headlessScreen(bytes: Buffer, cols: number, rows: number): Promise<{ lines: string[]; fgOf: (text: string) => number | null }> {
  const term = new headless.Terminal({ cols, rows, allowProposedApi: true });
  await new Promise<void>((r) => term.write(bytes, r));
  const buf = term.buffer.active;
  const lines: string[] = [];
  // trailing blanks, written (top clears with spaces) or never written, look the same: the page's text has neither
  for (let y = 0; y < rows; y++) lines.push((buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '').trimEnd());
  const fgOf = (text: string): number | null => {
    for (let y = 0; y < rows; y++) {
      const x = lines[y]!.indexOf(text);
      if (x >= 0)
        return (
          buf
            .getLine(buf.viewportY + y)
            ?.getCell(x)
            ?.getFgColor() ?? null
        );
    }
    return null;
  };
  term.dispose();
  return { lines, fgOf };
}

/** The whole stdout of a command so far, as bytes. */
async function stdoutBytes(h: HttpDaemon, commandId: string): Promise<Buffer> {
  const d = await call(h, 'exec.output', { command_id: commandId, encoding: 'base64', max_bytes: 1024 * 1024 });
  return Buffer.from(d.data, 'base64');
}

describe('the dashboard page', { skip: missing ?? false }, () => {
  const dir = makeTempDir('/tmp/trl-dash-page-');
  const auditLog = path.join(dir, 'audit.log');
  const h = useHttpDaemon({ flags: ['--dashboard', '--audit-log', auditLog] });
  let browser: Browser;
  let sessionId = '';
  before(async () => {
    browser = await launchChromium();
    sessionId = (await call(h, 'session.create', { name: 'builder', env: { API_TOKEN: 'dashboard-planted-secret-value-42' } })).session_id;
    await call(h, 'session.create', { name: 'reviewer' });
  });
  after(async () => {
    await browser?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('lists the sessions created through the API, with env keys and never their values', async () => {
    const { context, page } = await openDashboard(browser, h);
    try {
      await page.waitForSelector('[data-testid="sessions"] li:nth-child(2)');
      const text = await page.textContent('[data-testid="sessions"]');
      assert.match(text ?? '', /builder/);
      assert.match(text ?? '', /reviewer/);
      assert.equal(await page.textContent('[data-testid="grant"]'), 'read-only');
      // The key is in the page (a tooltip); the value nowhere, nor in anything the daemon sent it.
      const html = await page.content();
      assert.match(html, /API_TOKEN/);
      assert.doesNotMatch(html, /dashboard-planted-secret-value-42/);
      // A session created while the page is open appears without a reload.
      await call(h, 'session.create', { name: 'late-comer' });
      await page.waitForSelector('[data-testid="sessions"] li:has-text("late-comer")');
      await page.screenshot({ path: screenshotPath('sessions') });
    } finally {
      await context.close();
    }
  });

  test("a command's output is pushed to the page as it is printed, redacted as the API redacts it", async (t) => {
    const { context, page, sent, requests } = await openDashboard(browser, h);
    try {
      // Reads lines and prints each with the time it printed it (ms since the epoch: the page's clock is the same machine's).
      const cmd = await call(h, 'exec.start', { session_id: sessionId, command: 'while read l; do echo "MARK $l $(date +%s%3N) $API_TOKEN"; done', stdin_open: true });
      await page.click(`[data-testid="sessions"] li:has-text("builder")`);
      await page.click(`#command-${cmd.command_id}`);
      assert.ok(await waitFor(() => sent.some((s) => s.includes('"exec.attach"'))), 'never true: () => sent.some((s) => s.includes(\'"exec.attach"\'))');
      await page.evaluate(() => {
        const w = window as unknown as { arrivals: Record<string, number> };
        w.arrivals = {};
        const pre = document.querySelector('[data-testid="plain"]')!;
        new MutationObserver(() => {
          for (const m of (pre.textContent ?? '').matchAll(/MARK (m\d+) /g)) w.arrivals[m[1]!] ??= Date.now();
        }).observe(pre, { childList: true, subtree: true, characterData: true });
      });
      const latencies: number[] = [];
      for (let i = 1; i <= 5; i++) {
        const before = { frames: sent.length, requests: requests.length };
        await call(h, 'exec.input', { command_id: cmd.command_id, data: `m${i}\n` });
        assert.ok(
          await waitFor(async () => (await page.evaluate((k) => (window as any).arrivals[k] !== undefined, `m${i}`)) as boolean),
          'never true: async () => (await page.evaluate((k) => (window as any).arrivals[k] !== undefined, `m${i}`)) as boolean',
        );
        const arrived: number = await page.evaluate((k) => (window as any).arrivals[k], `m${i}`);
        const printed = Number(/MARK m\d+ (\d+)/.exec((await page.textContent('[data-testid="plain"]'))!.split('\n').find((l) => l.includes(`MARK m${i} `))!)![1]);
        latencies.push(arrived - printed);
        // Pushed: the page asked for nothing between the print and its arrival.
        assert.deepEqual(sent.slice(before.frames), [], 'the page sent a request while waiting for output: it polls');
        assert.equal(requests.length, before.requests, 'the page made an HTTP request while waiting for output');
      }
      const text = (await page.textContent('[data-testid="plain"]')) ?? '';
      assert.doesNotMatch(text, /dashboard-planted-secret-value-42/);
      assert.match(text, /MARK m1 \d+ \[REDACTED/);
      // Over the whole test the page sent only the attach (and perhaps a detach), never a read to poll with.
      assert.deepEqual(
        sent.map((s) => JSON.parse(s).method).filter((m) => m !== 'exec.attach' && m !== 'dashboard.detach'),
        [],
      );
      const sorted = [...latencies].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      // A figure, not a bound (a loaded CI machine is no measure of speed): recorded beside the screenshots.
      t.diagnostic(`print-to-page latency (page clock vs printed timestamp), ms: ${latencies.join(', ')}; median ${median}`);
      fs.mkdirSync(RESULTS_DIR, { recursive: true });
      fs.writeFileSync(path.join(RESULTS_DIR, 'dashboard-latency.json'), JSON.stringify({ latencies_ms: latencies, median_ms: median }) + '\n');
      await page.screenshot({ path: screenshotPath('output') });

      // A reload replays the output from the start of the buffer and keeps streaming.
      await page.reload();
      await page.waitForSelector('[data-testid="link"].live');
      assert.ok(
        await waitFor(async () => ((await page.textContent('[data-testid="plain"]')) ?? '').includes('MARK m5 ')),
        "never true: async () => ((await page.textContent('[data-testid=\"plain\"]')) ?? '').includes('MARK m5 ')",
      );
      const replayed = (await page.textContent('[data-testid="plain"]')) ?? '';
      for (let i = 1; i <= 5; i++) assert.match(replayed, new RegExp(`MARK m${i} `));
      await call(h, 'exec.input', { command_id: cmd.command_id, data: 'after-reload\n' });
      assert.ok(
        await waitFor(async () => ((await page.textContent('[data-testid="plain"]')) ?? '').includes('MARK after-reload ')),
        "never true: async () => ((await page.textContent('[data-testid=\"plain\"]')) ?? '').includes('MARK after-reload ')",
      );
      await call(h, 'exec.cancel', { command_id: cmd.command_id });
    } finally {
      await context.close();
    }
  });

  test('a PTY running a full-screen program renders as xterm renders the same bytes', async () => {
    const { context, page } = await openDashboard(browser, h);
    try {
      const cols = 80;
      const rows = 24;
      // The alternate screen, cursor moves, colours and a box: what full-screen programs draw. Then it waits, so the bytes stay put.
      const script = [
        "printf '\\033[?1049h\\033[2J\\033[H'",
        "printf '\\033[1;31mALERT\\033[0m full-screen \\033[7mreverse\\033[0m\\n'",
        "printf '\\033[5;10H+----------+\\033[6;10H| box body |\\033[7;10H+----------+'",
        "printf '\\033[24;1Hstatus line: q to quit'",
        'sleep 600',
      ].join('; ');
      const cmd = await call(h, 'exec.start', { session_id: sessionId, command: script, pty: { cols, rows } });
      assert.ok(await waitFor(async () => (await stdoutBytes(h, cmd.command_id)).includes('status line')), "never true: async () => (await stdoutBytes(h, cmd.command_id)).includes('status line')");
      await page.click(`#command-${cmd.command_id}`);
      await page.waitForSelector('[data-testid="term"] .xterm-rows');
      const bytes = await stdoutBytes(h, cmd.command_id);
      const expected = await headlessScreen(bytes, cols, rows);
      assert.ok(
        await waitFor(async () => JSON.stringify(await pageScreen(page)) === JSON.stringify(expected.lines)),
        'never true: async () => JSON.stringify(await pageScreen(page)) === JSON.stringify(expected.lines)',
      );
      assert.deepEqual(await pageScreen(page), expected.lines);
      assert.equal(expected.lines[0], 'ALERT full-screen reverse');
      // Colour too: the cell xterm's model colours red (1) is red on the page.
      assert.equal(expected.fgOf('ALERT'), 1);
      const redClass = await page.$eval('[data-testid="term"] .xterm-rows > div:first-child span', (s) => s.className);
      assert.match(redClass, /xterm-fg-(1|9)\b/);
      await page.screenshot({ path: screenshotPath('pty') });
      await call(h, 'exec.cancel', { command_id: cmd.command_id });

      // `top` itself, where procps is installed: whatever it drew so far renders as xterm renders it.
      if (fs.existsSync('/usr/bin/top')) {
        const top = await call(h, 'exec.start', { session_id: sessionId, command: 'top -d 600', pty: { cols, rows } });
        assert.ok(await waitFor(async () => (await stdoutBytes(h, top.command_id)).includes('PID')), "never true: async () => (await stdoutBytes(h, top.command_id)).includes('PID')");
        await page.click(`#command-${top.command_id}`);
        await page.waitForSelector('[data-testid="term"] .xterm-rows');
        // top may still be drawing its first frame: compare with xterm's rendering of the bytes as they are at each look.
        let topScreen: string[] = [];
        let shown: string[] = [];
        const same = await waitFor(async () => {
          shown = await pageScreen(page);
          topScreen = (await headlessScreen(await stdoutBytes(h, top.command_id), cols, rows)).lines;
          return JSON.stringify(shown) === JSON.stringify(topScreen);
        });
        assert.ok(same, `the page shows:\n${shown.join('\n')}\nxterm renders:\n${topScreen.join('\n')}`);
        assert.ok(
          topScreen.some((l) => /PID\s+USER/.test(l)),
          topScreen.join('\n'),
        );
        await page.screenshot({ path: screenshotPath('top') });
        await call(h, 'exec.cancel', { command_id: top.command_id });
      }
    } finally {
      await context.close();
    }
  });

  test('a read-only page cannot type into a terminal, whatever it sends', async () => {
    const { context, page, sent } = await openDashboard(browser, h);
    try {
      const cmd = await call(h, 'exec.start', { session_id: sessionId, command: 'cat', pty: { cols: 80, rows: 24 } });
      await page.click(`#command-${cmd.command_id}`);
      await page.waitForSelector('[data-testid="term"] .xterm-rows');
      assert.equal(await page.isHidden('#controls'), true);
      await page.click('[data-testid="term"]');
      await page.keyboard.type('typed-by-viewer\n');
      // The page's own WebSocket, used by hand from the page (same origin, same cookie): refused by the daemon.
      const answer = await page.evaluate(
        (id) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/dashboard/ws`, ['trl.v1']);
            ws.onopen = () => ws.send(JSON.stringify({ id: 'x', method: 'exec.input', params: { command_id: id, data: 'forged-by-viewer\n' } }));
            ws.onmessage = (e) => {
              const m = JSON.parse(e.data as string);
              if (m.id === 'x') resolve(JSON.stringify(m));
            };
            ws.onclose = () => resolve('closed');
          }),
        cmd.command_id,
      );
      assert.match(answer, /"ok":false/);
      assert.match(answer, /PERMISSION_DENIED/);
      assert.match(answer, /read-only/);
      // Whatever was typed went nowhere: input after it through the API comes out alone.
      await call(h, 'exec.input', { command_id: cmd.command_id, data: 'from-the-api\n' });
      assert.ok(await waitFor(async () => (await stdoutBytes(h, cmd.command_id)).includes('from-the-api')), "never true: async () => (await stdoutBytes(h, cmd.command_id)).includes('from-the-api')");
      const out = (await stdoutBytes(h, cmd.command_id)).toString();
      assert.doesNotMatch(out, /typed-by-viewer|forged-by-viewer/);
      // The page's own code sent no write either (the frame forged above is the only one).
      assert.deepEqual(
        sent.filter((s) => /exec\.(input|signal|cancel|resize)/.test(s) && !s.includes('"id":"x"')),
        [],
      );
      await call(h, 'exec.cancel', { command_id: cmd.command_id });
    } finally {
      await context.close();
    }
  });

  test('health, the audit tail and the viewer connection in the audit log', async () => {
    const { context, page } = await openDashboard(browser, h);
    try {
      await page.waitForSelector('[data-testid="audit"] li');
      assert.ok(
        await waitFor(async () => /dashboard\.connect/.test((await page.textContent('[data-testid="audit"]')) ?? '')),
        "never true: async () => /dashboard\\.connect/.test((await page.textContent('[data-testid=\"audit\"]')) ?? '')",
      );
      const health = (await page.textContent('[data-testid="health"]')) ?? '';
      assert.match(health, /tier host/);
      assert.match(health, /daemon RSS/);
      const lines = fs
        .readFileSync(auditLog, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.ok(lines.some((l) => l.method === 'dashboard.login' && l.grant === 'read'));
      assert.ok(lines.some((l) => l.method === 'dashboard.connect' && /^viewer-/.test(l.viewer)));
      assert.equal(JSON.stringify(lines).includes('dashboard-planted-secret-value-42'), false);
      await page.screenshot({ path: screenshotPath('overview') });
      // Narrow: one column, nothing wider than the window.
      await page.setViewportSize({ width: 420, height: 800 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the narrow page is ${overflow}px wider than the window`);
      await page.screenshot({ path: screenshotPath('narrow'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('keyboard: the session list and the command table are driven by keys', async () => {
    const cmd = await call(h, 'exec.start', { session_id: sessionId, command: 'echo chosen-by-keyboard' });
    assert.ok(
      await waitFor(async () => (await call(h, 'exec.info', { command_id: cmd.command_id })).state !== 'running'),
      "never true: async () => (await call(h, 'exec.info', { command_id: cmd.command_id })).state !== 'running'",
    );
    const { context, page } = await openDashboard(browser, h);
    try {
      await page.waitForSelector('[data-testid="sessions"] li:has-text("builder")');
      await page.focus('[data-testid="sessions"]');
      // builder is the first session created: Home, then Enter selects it.
      await page.keyboard.press('Home');
      await page.keyboard.press('Enter');
      await page.waitForSelector('[data-testid="sessions"] li[aria-selected="true"]:has-text("builder")');
      await page.focus(`#command-${cmd.command_id}`);
      await page.keyboard.press('Enter');
      assert.ok(
        await waitFor(async () => ((await page.textContent('[data-testid="plain"]')) ?? '').includes('chosen-by-keyboard')),
        "never true: async () => ((await page.textContent('[data-testid=\"plain\"]')) ?? '').includes('chosen-by-keyboard')",
      );
      assert.match(page.url(), new RegExp(`c=${cmd.command_id}`));
    } finally {
      await context.close();
    }
  });

  test('nothing moves while output streams, and the theme follows the system', async () => {
    const { context, page } = await openDashboard(browser, h);
    try {
      const cmd = await call(h, 'exec.start', { session_id: sessionId, command: 'for i in $(seq 1 400); do echo "streaming line $i"; sleep 0.01; done; echo stream-done' });
      await page.click(`#command-${cmd.command_id}`);
      await page.waitForSelector('[data-testid="plain"]:has-text("streaming line")');
      await page.evaluate(() => {
        const w = window as unknown as { shift: number };
        w.shift = 0;
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) w.shift += (e as unknown as { value: number }).value;
        }).observe({ type: 'layout-shift' });
      });
      const boxes = () => page.$$eval('.pane', (ps) => ps.map((p) => JSON.stringify(p.getBoundingClientRect())));
      const before = await boxes();
      assert.ok(
        await waitFor(async () => ((await page.textContent('[data-testid="plain"]')) ?? '').includes('stream-done')),
        "never true: async () => ((await page.textContent('[data-testid=\"plain\"]')) ?? '').includes('stream-done')",
      );
      assert.deepEqual(await boxes(), before);
      assert.equal(await page.evaluate(() => (window as unknown as { shift: number }).shift), 0);
      const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      await page.emulateMedia({ colorScheme: 'dark' });
      const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.notEqual(dark, light);
      await page.screenshot({ path: screenshotPath('dark') });
    } finally {
      await context.close();
    }
  });

  test('`trl dashboard` prints a working link; --write is refused by a daemon without --dashboard-write', async () => {
    const env = { ...process.env, TRL_AUTH_TOKEN: h.token };
    const out = execFileSync(process.execPath, [MAIN_JS, 'dashboard', '--url', h.url, '--json'], { env }).toString();
    const link = JSON.parse(out).url as string;
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/dashboard\/login\?ticket=/);
    assert.doesNotMatch(link, new RegExp(h.token));
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(link);
      await page.waitForSelector('[data-testid="link"].live');
    } finally {
      await context.close();
    }
    const refused = await mintTicket(h, { write: true });
    assert.equal(refused.status, 403);
    assert.match(refused.json.error.message, /--dashboard-write/);
    await assert.rejects(loginUrl(h, { write: true }));
  });
});
