import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { REPO_ROOT, startDaemon } from '../lib/daemon.js';
import { freePort } from '../lib/free-port.js';
import { compareRoundTrips } from '../lib/interleave.js';
import { makeRow } from '../lib/row.js';
import { summarize, type Summary } from '../lib/stats.js';
import { openHostSession } from './host-session.js';
import type { MetricContext, MetricResult } from './metric.js';

const MAIN = join(REPO_ROOT, 'dist', 'trl', 'trl.js');

/** One `run {"command": "true"}` tool call; throws unless it ran and exited 0. */
async function runTrue(client: Client): Promise<void> {
  const r = (await client.callTool({ name: 'run', arguments: { command: 'true' } })) as { isError?: boolean; structuredContent?: { exit_code?: number | null }; content?: unknown };
  if (r.isError || r.structuredContent?.exit_code !== 0) throw new Error(`MCP run of true failed: ${JSON.stringify(r.content).slice(0, 500)}`);
}

/**
 * An MCP tool call round trip — `run` of `true` through the official MCP
 * client SDK (2025 protocol) — against a direct `exec.run` of `true` on the
 * same daemon, in alternating blocks: over stdio to a `trl mcp` process in
 * front of the daemon's socket, and over Streamable HTTP to the daemon's
 * `/mcp`. What it costs an agent to go through MCP rather than the protocol.
 * The daemon is its own (it needs --http), with the bench's settings.
 */
export async function measureMcpRoundTrip(ctx: MetricContext, daemonEnv: Record<string, string>): Promise<MetricResult> {
  const { mcpIterations: iterations, warmup, blockSize } = ctx.options;
  const token = randomBytes(32).toString('hex');
  const port = await freePort();
  const daemon = await startDaemon({ env: { ...daemonEnv, TRL_AUTH_TOKEN: token }, args: ['--tiers', 'host', '--http', `127.0.0.1:${port}`] });
  const direct = await openHostSession(daemon.socketPath);
  const stdio = new Client({ name: 'trl-bench', version: '0' });
  const http = new Client({ name: 'trl-bench', version: '0' });
  try {
    await stdio.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [MAIN, 'mcp', '--socket', daemon.socketPath],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' },
        stderr: 'inherit',
      }),
    );
    await http.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    const opts = { n: iterations, warmup, blockSize };
    const viaStdio = await compareRoundTrips(
      opts,
      () => runTrue(stdio),
      () => direct.runTrue(),
    );
    const viaHttp = await compareRoundTrips(
      opts,
      () => runTrue(http),
      () => direct.runTrue(),
    );
    const s = { mcp: summarize(viaStdio.trl), direct: summarize(viaStdio.baseline) };
    const h = { mcp: summarize(viaHttp.trl), direct: summarize(viaHttp.baseline) };
    const ratios = (x: { mcp: Summary; direct: Summary }) => ({ ratio_p50: x.mcp.p50 / x.direct.p50, ratio_p99: x.mcp.p99 / x.direct.p99 });
    return {
      rows: [
        makeRow('MCP `run` of `true` over stdio p50 (vs `exec.run`)', 'ms', { kind: 'none' }, s.mcp.p50, s.direct.p50),
        makeRow('MCP `run` of `true` over HTTP p50 (vs `exec.run`)', 'ms', { kind: 'none' }, h.mcp.p50, h.direct.p50),
      ],
      data: { unit: 'ms', iterations, warmup, block_size: blockSize, protocol: '2025 (MCP session)', stdio: { ...s, ...ratios(s) }, http: { ...h, ...ratios(h) } },
    };
  } finally {
    await stdio.close().catch(() => undefined);
    await http.close().catch(() => undefined);
    await direct.close().catch(() => undefined);
    await daemon.stop();
  }
}
