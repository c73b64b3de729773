/**
 * `trl mcp`'s acceptance suite (issue 14, test/helpers/mcp-suite.ts) on each
 * of its targets: stdio and Streamable HTTP, both protocols, host and sandbox
 * sessions. One file, its parts side by side: every target's suite waits for
 * a command that runs 70 s (longer than the MCP SDK's 60 s request timeout),
 * so together they wait once, where three files each held one of
 * `npm test`'s two slots idle for over a minute.
 */
import { describe } from 'node:test';
import { mcpOverHttp } from './mcp/http.js';
import { mcpWithSandbox } from './mcp/sandbox.js';
import { mcpOverStdio } from './mcp/stdio.js';

describe('trl mcp on every target', { concurrency: true }, () => {
  mcpOverStdio();
  mcpOverHttp();
  mcpWithSandbox();
});
