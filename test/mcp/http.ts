/**
 * MCP over Streamable HTTP at the daemon's /mcp (issue 14), behind its bearer
 * token: the acceptance suite with the 2025 protocol (an MCP session) and the
 * stateless 2026-07-28 protocol; and the route's refusals.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type TrlClient } from '../helpers/client.js';
import { request, startHttpDaemon, type HttpDaemon } from '../helpers/http.js';
import { connectHttp, type Era } from '../helpers/mcp.js';
import { mcpSuite } from '../helpers/mcp-suite.js';

/** MCP at the daemon's /mcp, both protocols, and the route's refusals. Registered by test/mcp.test.ts. */
export function mcpOverHttp(): void {
  describe('MCP over Streamable HTTP', { concurrency: 2 }, () => {
    let h: HttpDaemon;
    let trl: TrlClient;
    before(async () => {
      h = await startHttpDaemon({ flags: ['--max-output-bytes', String(16 * 1024 * 1024)] });
      trl = await connect(h.d);
    });
    after(async () => {
      trl?.close();
      await h?.d.shutdownClean();
    });

    it('refuses a request without the bearer token, and a 2025 request outside a session', async () => {
      const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
      const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
      const noToken = await request(`${h.url}/mcp`, { method: 'POST', headers, body: init });
      assert.equal(noToken.status, 401);
      const wrong = await request(`${h.url}/mcp`, { method: 'POST', headers: { ...headers, Authorization: `Bearer ${'x'.repeat(64)}` }, body: init });
      assert.equal(wrong.status, 401);
      const noSession = await request(`${h.url}/mcp`, { method: 'POST', headers: { ...headers, Authorization: `Bearer ${h.token}` }, body: init });
      assert.equal(noSession.status, 400);
      assert.match(noSession.body, /initialize/);
      const unknown = await request(`${h.url}/mcp`, { method: 'POST', headers: { ...headers, Authorization: `Bearer ${h.token}`, 'Mcp-Session-Id': 'no-such-session' }, body: init });
      assert.equal(unknown.status, 404);
    });

    for (const era of ['legacy', 'modern'] as Era[]) {
      mcpSuite({
        label: `HTTP, ${era === 'legacy' ? '2025' : '2026-07-28'} protocol`,
        connect: () => connectHttp(era, h.url, h.token),
        daemon: () => trl,
        tier: 'host',
        endsWithClient: era === 'legacy',
        skipReason: () => null,
      });
    }
  });
}
