/**
 * The MCP acceptance suite with the sessions' tier set to sandbox by the
 * operator (issue 14): `trl mcp --runtime sandbox` over stdio, and a daemon
 * whose default tier is sandbox serving /mcp over HTTP. Skipped with the
 * reason where bubblewrap is unusable (a failure under TRL_REQUIRE_TIERS=1).
 */
import { after, before, describe } from 'node:test';
import { waitForHttpUrl, makeToken } from '../helpers/http.js';
import { connectHttp, connectStdio } from '../helpers/mcp.js';
import { mcpSuite } from '../helpers/mcp-suite.js';
import { startTierDaemon, type TierDaemon } from '../helpers/tiers.js';

/** The suite with sandbox sessions, over stdio and HTTP. Registered by test/mcp.test.ts. */
export function mcpWithSandbox(): void {
  describe('trl mcp with sandbox sessions', { concurrency: 2 }, () => {
    let td: TierDaemon;
    let url = '';
    const token = makeToken();
    before(async () => {
      td = await startTierDaemon('sandbox', { flags: ['--max-output-bytes', String(16 * 1024 * 1024), '--http', '127.0.0.1:0'], env: { TRL_AUTH_TOKEN: token } });
      if (td.daemon && !td.skipReason) url = await waitForHttpUrl(td.daemon);
    });
    after(async () => {
      await td?.close();
    });
    mcpSuite({
      label: 'stdio, 2025 protocol, --runtime sandbox',
      connect: () => connectStdio('legacy', ['--socket', td.daemon!.socketPath, '--runtime', 'sandbox']),
      daemon: () => td.client!,
      tier: 'sandbox',
      endsWithClient: true,
      skipReason: () => td?.skipReason ?? null,
    });
    mcpSuite({
      label: 'HTTP, 2026-07-28 protocol, daemon default tier sandbox',
      connect: () => connectHttp('modern', url, token),
      daemon: () => td.client!,
      tier: 'sandbox',
      endsWithClient: false,
      skipReason: () => td?.skipReason ?? null,
    });
  });
}
