/**
 * Who may see and drive the dashboard: one-use, short-lived tickets; a cookie
 * bound to the daemon's origin; every WebSocket upgrade checked against the
 * page's Origin (cross-site WebSocket hijacking), from a real page on another
 * local origin, with and without the cookie; the viewer cap; a write grant
 * that is separate and audited, and a read-only viewer that cannot write.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { makeTempDir } from './helpers/daemon.js';
import { call, chromiumMissing, launchChromium, loginCookie, loginUrl, mintTicket, openDashboard, screenshotPath } from './helpers/dashboard.js';
import { useHttpDaemon } from './helpers/fixture.js';
import { openWs, request, type HttpDaemon, type RawWs } from './helpers/http.js';
import { waitFor } from './helpers/wait.js';

const missing = chromiumMissing();
if (missing) console.log(`# skipping the dashboard browser tests: ${missing}`);

function viewerWs(h: HttpDaemon, cookie: string | null, origin: string | null = h.url, headers: Record<string, string> = {}): Promise<RawWs> {
  return openWs(h, { path: '/dashboard/ws', protocols: ['trl.v1'], headers: { ...(cookie ? { Cookie: cookie } : {}), ...headers }, ...(origin ? { origin } : {}) });
}

async function refusedStatus(p: Promise<RawWs>): Promise<number> {
  try {
    (await p).close();
    return 101;
  } catch (err) {
    return (err as { status?: number }).status ?? 0;
  }
}

describe('dashboard access', () => {
  const dir = makeTempDir('/tmp/trl-dash-auth-');
  const auditLog = path.join(dir, 'audit.log');
  const h = useHttpDaemon({ flags: ['--dashboard', '--dashboard-write', '--dashboard-max-viewers', '2', '--audit-log', auditLog] });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a ticket needs the bearer token, works once, and not after it expires', async () => {
    assert.equal((await mintTicket(h, {}, 'x'.repeat(64))).status, 401);
    const { url } = await loginUrl(h);
    assert.doesNotMatch(url, new RegExp(h.token));
    const first = await request(url);
    assert.equal(first.status, 303);
    const cookie = first.headers['set-cookie']?.[0] ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\/dashboard/);
    assert.doesNotMatch(cookie, /Domain=/i);
    const again = await request(url);
    assert.equal(again.status, 403);
    assert.match(again.body, /already used/);
    assert.equal(again.headers['set-cookie'], undefined);
    const short = await loginUrl(h, { ttl_s: 1 });
    assert.ok(await waitFor(() => Date.now() > short.expiresAt + 100), 'never true: () => Date.now() > short.expiresAt + 100');
    const late = await request(short.url);
    assert.equal(late.status, 403);
    assert.match(late.body, /expired/);
    assert.equal(late.headers['set-cookie'], undefined);
    const forged = await request(`${h.url}/dashboard/login?ticket=${'A'.repeat(43)}`);
    assert.equal(forged.status, 403);
    assert.match(forged.body, /not one this daemon gave out/);
    // Without a cookie the page says how to get in; the WebSocket is refused.
    const page = await request(`${h.url}/dashboard`);
    assert.equal(page.status, 401);
    assert.match(page.body, /trl dashboard/);
    assert.equal(await refusedStatus(viewerWs(h, null)), 401);
  });

  test('the WebSocket opens only from the daemon’s own origin, on a Host it serves', async () => {
    const cookie = await loginCookie(h);
    const own = await viewerWs(h, cookie);
    const hello = await own.nextWhere((m) => m.event === 'hello');
    assert.equal(hello.data.grant, 'read');
    await own.nextWhere((m) => m.event === 'snapshot');
    own.close();
    await own.closed;
    assert.equal(await refusedStatus(viewerWs(h, cookie, 'http://127.0.0.1:1')), 403);
    assert.equal(await refusedStatus(viewerWs(h, cookie, 'http://evil.example')), 403);
    assert.equal(await refusedStatus(viewerWs(h, cookie, null)), 403);
    // DNS rebinding: another name that resolves here is not the daemon's origin, even with a matching Origin.
    const evil = `http://evil.example:${h.port}`;
    assert.equal(await refusedStatus(viewerWs(h, cookie, evil, { Host: `evil.example:${h.port}` })), 403);
    const rebound = await request(`${h.url}/dashboard`, { headers: { Host: `evil.example:${h.port}`, Cookie: cookie } });
    assert.equal(rebound.status, 421);
  });

  test('a read-only viewer cannot write, whatever it sends', async () => {
    const session = (await call(h, 'session.create', {})).session_id;
    const cmd = await call(h, 'exec.start', { session_id: session, command: 'cat', stdin_open: true });
    const ws = await viewerWs(h, await loginCookie(h));
    try {
      const calls: [string, Record<string, unknown>][] = [
        ['exec.input', { command_id: cmd.command_id, data: 'forged\n' }],
        ['exec.signal', { command_id: cmd.command_id, signal: 'SIGKILL' }],
        ['exec.cancel', { command_id: cmd.command_id }],
        ['exec.resize', { command_id: cmd.command_id, cols: 10, rows: 10 }],
        ['session.destroy', { session_id: session }],
        ['exec.run', { session_id: session, command: 'touch /tmp/should-not-exist' }],
        ['fs.read', { session_id: session, path: '/etc/hostname' }],
      ];
      for (const [i, [method, params]] of calls.entries()) {
        ws.send({ id: i, method, params });
        const answer = await ws.nextWhere((m) => m.id === i);
        assert.equal(answer.ok, false, `${method} was allowed`);
        assert.equal(answer.error.code, 'PERMISSION_DENIED', method);
      }
      // Reading is allowed (a control: the same socket works).
      ws.send({ id: 'r', method: 'exec.info', params: { command_id: cmd.command_id } });
      const info = await ws.nextWhere((m) => m.id === 'r');
      assert.equal(info.ok, true);
      assert.equal(info.data.state, 'running');
      await call(h, 'exec.input', { command_id: cmd.command_id, data: 'from-api\n' });
      assert.ok(
        await waitFor(async () => (await call(h, 'exec.output', { command_id: cmd.command_id })).data.includes('from-api')),
        "never true: async () => (await call(h, 'exec.output', { command_id: cmd.command_id })).data.includes('from-api')",
      );
      assert.doesNotMatch((await call(h, 'exec.output', { command_id: cmd.command_id })).data, /forged/);
    } finally {
      ws.close();
      await call(h, 'exec.cancel', { command_id: cmd.command_id });
    }
  });

  test('at most --dashboard-max-viewers pages; each connection is in the audit log', async () => {
    const cookie = await loginCookie(h);
    const a = await viewerWs(h, cookie);
    const b = await viewerWs(h, cookie);
    try {
      const third = await refusedStatus(viewerWs(h, cookie));
      assert.equal(third, 503);
      a.close();
      await a.closed;
      assert.ok(await waitFor(async () => (await refusedStatus(viewerWs(h, cookie))) === 101), 'never true: async () => (await refusedStatus(viewerWs(h, cookie))) === 101');
    } finally {
      b.close();
      await b.closed;
    }
    const entries = fs
      .readFileSync(auditLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(entries.some((e) => e.method === 'dashboard.connect' && e.remote === '127.0.0.1'));
    assert.ok(entries.some((e) => e.method === 'dashboard.disconnect' && typeof e.duration_ms === 'number'));
  });

  test('switching commands detaches the old stream: more switches than stream slots', async () => {
    const session = (await call(h, 'session.create', {})).session_id;
    const cmd = await call(h, 'exec.start', { session_id: session, command: 'echo replayed; sleep 600' });
    const ws = await viewerWs(h, await loginCookie(h));
    try {
      for (let i = 0; i < 20; i++) {
        ws.send({ id: `a${i}`, method: 'exec.attach', params: { command_id: cmd.command_id, from_offset: 0 } });
        const opened = await ws.nextWhere((m) => m.id === `a${i}`);
        assert.equal(opened.ok, true, JSON.stringify(opened));
        await ws.nextWhere((m) => m.stream_id === opened.data.stream_id && m.event === 'stdout' && m.data.includes('replayed'));
        ws.send({ id: `d${i}`, method: 'dashboard.detach', params: { stream_id: opened.data.stream_id } });
        await ws.nextWhere((m) => m.stream_id === opened.data.stream_id && m.event === 'exit' && m.data.detached === true);
        assert.equal((await ws.nextWhere((m) => m.id === `d${i}`)).data.detached, true);
      }
    } finally {
      ws.close();
      await call(h, 'exec.cancel', { command_id: cmd.command_id });
    }
  });

  describe('in a browser', { skip: missing ?? false }, () => {
    let browser: Browser;
    let other: http.Server;
    let otherUrl = '';
    before(async () => {
      browser = await launchChromium();
      // Another origin on this machine: a page that tries to reach the daemon.
      other = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>elsewhere</title><p>another site</p>'));
      await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
      otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    });
    after(async () => {
      await browser?.close();
      await new Promise<void>((r) => other?.close(() => r()));
    });

    /** From a page on the other origin: can it open the dashboard's WebSocket, or read the page or the API? */
    async function attempt(context: import('playwright-core').BrowserContext): Promise<{ ws: string; page: string; api: string }> {
      const page = await context.newPage();
      await page.goto(otherUrl);
      return page.evaluate(async (daemon) => {
        const ws = await new Promise<string>((resolve) => {
          const s = new WebSocket(`${daemon.replace('http', 'ws')}/dashboard/ws`, ['trl.v1']);
          s.onopen = () => resolve('open');
          s.onmessage = (e) => resolve(`message: ${String(e.data).slice(0, 80)}`);
          s.onerror = () => resolve('error');
        });
        const read = async (url: string) => {
          try {
            const r = await fetch(url, { credentials: 'include' });
            return `read ${r.status}: ${(await r.text()).slice(0, 80)}`;
          } catch (e) {
            return `blocked: ${String(e)}`;
          }
        };
        return { ws, page: await read(`${daemon}/dashboard`), api: await read(`${daemon}/v1/rpc`) };
      }, h.url);
    }

    test('a page on another origin cannot open the WebSocket or read anything, with or without the cookie', async () => {
      const fresh = await browser.newContext();
      try {
        const r = await attempt(fresh);
        assert.equal(r.ws, 'error');
        assert.match(r.page, /^blocked/);
        assert.match(r.api, /^blocked/);
      } finally {
        await fresh.close();
      }
      // Signed in on the daemon's origin in the same browser: the cookie exists and is sent (same site), and still nothing.
      const { context, page } = await openDashboard(browser, h);
      try {
        const cookies = await context.cookies(h.url + '/dashboard');
        assert.equal(cookies.length, 1);
        assert.equal(cookies[0]!.httpOnly, true);
        assert.equal(cookies[0]!.sameSite, 'Strict');
        assert.equal(await page.evaluate(() => document.cookie), '');
        const before = h.d.stderr().split('refused a dashboard WebSocket').length;
        const r = await attempt(context);
        assert.equal(r.ws, 'error');
        assert.match(r.page, /^blocked/);
        assert.match(r.api, /^blocked/);
        assert.ok(await waitFor(() => h.d.stderr().split('refused a dashboard WebSocket').length > before), "never true: () => h.d.stderr().split('refused a dashboard WebSocket').length > before");
        assert.match(h.d.stderr(), /"why":"origin"/);
      } finally {
        await context.close();
      }
    });

    test('an expired or reused ticket is refused in the browser', async () => {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        const { url } = await loginUrl(h);
        assert.equal((await page.goto(url))?.status(), 200);
        const second = await context.newPage();
        const reused = await second.goto(url);
        assert.equal(reused?.status(), 403);
        assert.match((await second.textContent('body')) ?? '', /already used/);
        const short = await loginUrl(h, { ttl_s: 1 });
        assert.ok(await waitFor(() => Date.now() > short.expiresAt + 100), 'never true: () => Date.now() > short.expiresAt + 100');
        const other = await browser.newContext();
        try {
          const p = await other.newPage();
          assert.equal((await p.goto(short.url))?.status(), 403);
          assert.match((await p.textContent('body')) ?? '', /expired/);
          assert.equal((await p.goto(`${h.url}/dashboard`))?.status(), 401);
          assert.deepEqual(await other.cookies(), []);
          await p.screenshot({ path: screenshotPath('refused') });
        } finally {
          await other.close();
        }
      } finally {
        await context.close();
      }
    });

    test('with the write grant the page types, interrupts, and each write is audited', async () => {
      const session = (await call(h, 'session.create', { name: 'writable' })).session_id;
      const cmd = await call(h, 'exec.start', { session_id: session, command: 'while read l; do echo "got $l"; done', stdin_open: true });
      const { context, page } = await openDashboard(browser, h, { write: true });
      try {
        assert.equal(await page.textContent('[data-testid="grant"]'), 'write');
        await page.click(`#command-${cmd.command_id}`);
        await page.fill('#input', 'typed in the page');
        await page.press('#input', 'Enter');
        assert.ok(
          await waitFor(async () => ((await page.textContent('[data-testid="plain"]')) ?? '').includes('got typed in the page')),
          "never true: async () => ((await page.textContent('[data-testid=\"plain\"]')) ?? '').includes('got typed in the page')",
        );
        await page.screenshot({ path: screenshotPath('write') });
        await page.click('#interrupt');
        assert.ok(
          await waitFor(async () => (await call(h, 'exec.info', { command_id: cmd.command_id })).state !== 'running'),
          "never true: async () => (await call(h, 'exec.info', { command_id: cmd.command_id })).state !== 'running'",
        );
        const entries = fs
          .readFileSync(auditLog, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const writes = entries.filter((e) => e.method === 'dashboard.write' && e.command_id === cmd.command_id);
        assert.deepEqual(
          writes.map((w) => [w.action, w.ok]),
          [
            ['exec.input', true],
            ['exec.signal', true],
          ],
        );
        assert.equal(writes[0].input_bytes, 'typed in the page\n'.length);
        // The bytes typed are not in the audit log: only their count.
        assert.equal(JSON.stringify(writes).includes('typed in the page'), false);
        assert.ok(entries.some((e) => e.method === 'dashboard.login' && e.grant === 'write'));
      } finally {
        await context.close();
      }
    });
  });
});
