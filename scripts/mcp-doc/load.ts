/**
 * The inputs of the tool reference in docs/mcp.md: what an MCP client is
 * shown by `tools/list` and the server's instructions, asked of the real
 * server (src/mcp/mcp-server.ts) through the official client SDK over an
 * in-memory transport, so the doc is what an agent sees. Listing tools calls
 * no daemon: the scope's caller refuses every call.
 */
import { Client, type Tool } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { buildMcpServer } from '../../src/mcp/mcp-server.js';
import { McpScope } from '../../src/mcp/scope.js';

export interface McpDocInput {
  tools: Tool[];
  instructions: string;
}

export async function loadMcpDocInput(): Promise<McpDocInput> {
  const caller = { call: () => Promise.reject(new Error('the doc generator talks to no daemon')) };
  const server = buildMcpServer(new McpScope(caller, { timeout_s: 0 }, 'doc', false));
  const [clientEnd, serverEnd] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'gen-mcp-doc', version: '0' });
  await server.connect(serverEnd);
  await client.connect(clientEnd);
  try {
    const { tools } = await client.listTools();
    return { tools, instructions: client.getInstructions() ?? '' };
  } finally {
    await client.close();
    await server.close();
  }
}
