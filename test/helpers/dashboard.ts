/**
 * The dashboard's tests (test/dashboard-*.test.ts): Debian's headless
 * Chromium driven by playwright-core (no browser download), tickets minted
 * with the bearer token, the login that turns one into a cookie, and where
 * the screenshots go (test-results/, git-ignored).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from './daemon.js';
import { request, rpc, type HttpDaemon } from './http.js';

export const CHROMIUM = '/usr/bin/chromium';
export const RESULTS_DIR = path.join(REPO_ROOT, 'test-results');

/** Why the browser tests cannot run here, or null. */
export function chromiumMissing(): string | null {
  return fs.existsSync(CHROMIUM) ? null : `no ${CHROMIUM} (apt-get install chromium): the dashboard's browser tests need Debian's headless Chromium`;
}

export function launchChromium(): Promise<Browser> {
  // As root (CI) Chromium needs --no-sandbox; the page under test is our own.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** POST /dashboard/ticket with the token: the answer (status, JSON). */
export async function mintTicket(h: HttpDaemon, body: { write?: boolean; ttl_s?: number } = {}, token = h.token): Promise<{ status: number; json: any }> {
  const a = await request(`${h.url}/dashboard/ticket`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: a.status, json: a.json };
}

/** A fresh one-use login URL. */
export async function loginUrl(h: HttpDaemon, body: { write?: boolean; ttl_s?: number } = {}): Promise<{ url: string; expiresAt: number }> {
  const { status, json } = await mintTicket(h, body);
  if (status !== 200) throw new Error(`no ticket: ${status} ${JSON.stringify(json)}`);
  return { url: h.url + json.data.login_path, expiresAt: Date.parse(json.data.expires_at) };
}

/** Redeem a ticket outside a browser: the cookie (`name=value`) the daemon set. */
export async function loginCookie(h: HttpDaemon, body: { write?: boolean } = {}): Promise<string> {
  const { url } = await loginUrl(h, body);
  const a = await request(url);
  const set = a.headers['set-cookie']?.[0];
  if (a.status !== 303 || !set) throw new Error(`login refused: ${a.status} ${a.body}`);
  return set.split(';')[0]!;
}

/** A new browser context (its own cookies) with a signed-in dashboard page at 1280×800. */
/**
 * A logged-in dashboard page, live. `sent` holds every WebSocket frame the page sent and `requests` every
 * URL it requested, recorded from before it loaded (its WebSocket opens as it loads: a listener added after
 * would see nothing, and an assertion that it sent nothing would hold vacuously).
 */
export async function openDashboard(browser: Browser, h: HttpDaemon, body: { write?: boolean } = {}): Promise<{ context: BrowserContext; page: Page; sent: string[]; requests: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const sent: string[] = [];
  const requests: string[] = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
  page.on('request', (r) => requests.push(r.url()));
  const { url } = await loginUrl(h, body);
  await page.goto(url);
  await page.waitForSelector('[data-testid="link"].live');
  return { context, page, sent, requests };
}

export function screenshotPath(name: string): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  return path.join(RESULTS_DIR, `dashboard-${name}.png`);
}

/** A call over HTTP that must succeed: its data. */
export async function call(h: HttpDaemon, method: string, params: Record<string, unknown>): Promise<any> {
  const a = await rpc(h, method, params);
  assert.equal(a.json?.ok, true, `${method}: ${a.body}`);
  return a.json.data;
}
