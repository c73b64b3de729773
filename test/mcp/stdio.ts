/**
 * `trl mcp` over stdio (issue 14), in front of a running host-tier daemon:
 * the acceptance suite with the 2025 handshake and with the 2026-07-28
 * protocol, side by side.
 */
import { after, before, describe } from 'node:test';
import { connect, type TrlClient } from '../helpers/client.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectStdio, type Era } from '../helpers/mcp.js';
import { mcpSuite } from '../helpers/mcp-suite.js';

/** Room for the 10 MiB test's whole output (the default keeps 4 MiB of head and tail). */
const BIG_OUTPUT_FLAGS = ['--max-output-bytes', String(16 * 1024 * 1024)];

/** `trl mcp` over stdio in front of a host-tier daemon, both protocols. Registered by test/mcp.test.ts. */
export function mcpOverStdio(): void {
  describe('trl mcp over stdio', { concurrency: 2 }, () => {
    let d: Daemon;
    let trl: TrlClient;
    before(async () => {
      d = await startDaemon({ flags: BIG_OUTPUT_FLAGS });
      trl = await connect(d);
    });
    after(async () => {
      trl?.close();
      await d?.shutdownClean();
    });
    for (const era of ['legacy', 'modern'] as Era[]) {
      mcpSuite({
        label: `stdio, ${era === 'legacy' ? '2025' : '2026-07-28'} protocol`,
        connect: () => connectStdio(era, ['--socket', d.socketPath]),
        daemon: () => trl,
        tier: 'host',
        endsWithClient: true,
        skipReason: () => null,
      });
    }
  });
}
