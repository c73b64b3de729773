import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { buildMcpServer } from './mcp-server.js';
import type { McpScope } from './scope.js';

export interface StdioServing {
  /** Resolves when the client closes its end (stdin at end of file). */
  clientGone: Promise<void>;
  /** Stop serving and destroy the scope's sessions (their processes are killed). */
  close(): Promise<void>;
}

/**
 * MCP over this process's stdin and stdout, both protocol eras (the SDK picks
 * the era from the client's opening). One scope for the connection: its
 * sessions end when the client goes.
 */
export function serveMcpStdio(scope: McpScope, onError: (err: Error) => void): StdioServing {
  const handle = serveStdio(() => buildMcpServer(scope), { onerror: onError });
  const clientGone = new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
  });
  let closing: Promise<void> | null = null;
  return {
    clientGone,
    close: () =>
      (closing ??= (async () => {
        await handle.close().catch(onError);
        await scope.destroyAll().catch(onError);
      })()),
  };
}
