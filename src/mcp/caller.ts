import type { MethodName, ParamsOf, ResultOf } from '../protocol/methods.js';

/**
 * All the MCP tools need of trl: one typed call. The SDK's clients (Unix
 * socket, HTTP, WebSocket) are callers; so is the daemon's own dispatcher
 * when it serves MCP on its HTTP listener (src/server/mcp-route.ts).
 */
export interface TrlCaller {
  call<M extends MethodName>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>>;
}
