import { McpServer } from '@modelcontextprotocol/server';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { McpScope } from './scope.js';
import { DEFAULT_YIELD_S } from './tool-schemas.js';
import { registerInput } from './tools/input.js';
import { registerList } from './tools/list.js';
import { registerOutput } from './tools/output.js';
import { registerRun } from './tools/run.js';
import { registerStop } from './tools/stop.js';

const INSTRUCTIONS = `trl runs shell commands for you in persistent sessions: cd and export carry over between run calls naming the same session, exit codes are exact and stderr is separate.
A call never blocks for long: run returns within yield_s (default ${DEFAULT_YIELD_S} s) and a command still running then keeps running in the background; continue with output (waits for its end or a text), input (type, keys such as Enter or Ctrl-C) and stop (kills its whole process tree). Output past your budget keeps head and tail, and the cut line says the byte offset to read the rest from.`;

/** One MCP server instance over a scope: the tools, their schemas and annotations. */
export function buildMcpServer(scope: McpScope): McpServer {
  const server = new McpServer({ name: 'trl', title: 'trl: terminal runtime for agents', version: PROTOCOL_VERSION }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  registerRun(server, scope);
  registerOutput(server, scope);
  registerInput(server, scope);
  registerStop(server, scope);
  registerList(server, scope);
  return server;
}
