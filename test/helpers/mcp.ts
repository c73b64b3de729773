/**
 * Test harness for `trl mcp`: the official MCP client SDK over stdio (a real
 * `trl mcp` process) and over Streamable HTTP (a daemon's /mcp), in either
 * protocol era, plus process-table checks.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { Readable } from 'node:stream';
import { MAIN_JS } from './daemon.js';

export type Era = 'legacy' | 'modern';

/** The 2025 handshake (what agents speak today), or the 2026-07-28 protocol, pinned. */
export function newClient(era: Era): Client {
  return new Client({ name: 'trl-test', version: '0' }, era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {});
}

export interface McpConnection {
  client: Client;
  /** What `trl mcp` wrote on stderr (stdio only). */
  stderr(): string;
  /** Pid of the `trl mcp` process (stdio only). */
  pid: number | null;
  /** HTTP 2025 era: end the MCP session (DELETE). */
  terminate(): Promise<void>;
  close(): Promise<void>;
}

/** Start `trl mcp ARGS` and connect to it over its stdin and stdout. */
export async function connectStdio(era: Era, args: string[], env: Record<string, string> = {}): Promise<McpConnection> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MAIN_JS, 'mcp', ...args],
    stderr: 'pipe',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', ...env },
  });
  let err = '';
  const stream = transport.stderr as Readable | null;
  stream?.setEncoding('utf8');
  stream?.on('data', (d: string) => (err += d));
  const client = newClient(era);
  try {
    await client.connect(transport);
  } catch (e) {
    await transport.close().catch(() => undefined);
    throw new Error(`trl mcp ${args.join(' ')} did not connect: ${(e as Error).message}\nstderr:\n${err}`, { cause: e });
  }
  return {
    client,
    stderr: () => err,
    pid: transport.pid,
    terminate: async () => undefined,
    close: () => client.close(),
  };
}

/**
 * fetch, sent once more when it failed on a kept-alive connection the server
 * had closed meanwhile (the daemon closes one idle for 65 s; a test process
 * whose event loop was busy can pick it before seeing the close). Nothing
 * reached the server then, so the retry cannot run a command twice.
 */
const retryingFetch: typeof fetch = async (input, init) => {
  try {
    return await fetch(input, init);
  } catch (err) {
    const code = ((err as { cause?: { code?: string } }).cause ?? {}).code;
    if (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET' && code !== 'EPIPE') throw err;
    console.log(`# a kept-alive connection was closed under the request (${code}); sent again`);
    return fetch(input, init);
  }
};

/** Connect to a daemon's /mcp over Streamable HTTP with its bearer token. */
export async function connectHttp(era: Era, baseUrl: string, token: string): Promise<McpConnection> {
  const transport = new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } }, fetch: retryingFetch });
  const client = newClient(era);
  // What the SDK only reports here (a cancellation it could not send, say) is printed: a test that then fails says why.
  client.onerror = (err) => console.log(`# MCP client (HTTP) error: ${err.message}`);
  await client.connect(transport);
  return {
    client,
    stderr: () => '',
    pid: null,
    terminate: () => transport.terminateSession(),
    close: () => client.close(),
  };
}

/** The text content of a tool result. */
export function textOf(result: { content?: unknown }): string {
  const content = (result.content ?? []) as Array<{ type: string; text?: string }>;
  return content.map((c) => (c.type === 'text' ? (c.text ?? '') : '')).join('');
}
