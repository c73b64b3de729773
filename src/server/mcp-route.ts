import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { TrlClientError } from '../client/client-error.js';
import type { TrlCaller } from '../mcp/caller.js';
import { McpHttpEndpoint } from '../mcp/http-endpoint.js';
import { sendWebResponse, toWebRequest } from '../mcp/node-web.js';
import type { Connection } from './connection.js';
import type { Dispatcher } from './dispatch.js';

/** No MCP tool opens a stream: the dispatcher never writes to this. */
const NO_STREAM: Connection = {
  send: () => undefined,
  sendLine: () => undefined,
  writable: () => true,
  onDrain: (fn) => setImmediate(fn),
  onClose: () => () => undefined,
  closed: false,
};

/** The daemon's own dispatcher as the MCP tools' caller: the same validation, limits and audit as any client. */
export function dispatcherCaller(dispatcher: Dispatcher): TrlCaller {
  let id = 0;
  return {
    async call(method, params) {
      const { response } = await dispatcher.handle({ id: ++id, method, params }, NO_STREAM);
      if (response.ok) return response.data as never;
      throw new TrlClientError(response.error);
    },
  };
}

/**
 * `/mcp` on the daemon's HTTP listener: MCP over Streamable HTTP, behind the
 * transport's bearer token and CORS policy (checked before the route). Sessions
 * get the daemon's defaults (tier, working directory) and no command timeout.
 */
export class McpRoute {
  private readonly endpoint: McpHttpEndpoint;

  constructor(
    dispatcher: Dispatcher,
    private readonly maxRequestBytes: number,
    private readonly log: Logger,
  ) {
    this.endpoint = new McpHttpEndpoint(
      dispatcherCaller(dispatcher),
      { timeout_s: 0 },
      {
        maxRequestBytes,
        onError: (err) => this.log.warn({ err: { name: err.name, message: err.message } }, 'MCP endpoint error'),
      },
    );
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const request = await toWebRequest(req, gone.signal, this.maxRequestBytes);
    if (request === 'too large') {
      res.shouldKeepAlive = false;
      res.writeHead(413, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32600, message: `the request body is larger than ${this.maxRequestBytes} bytes (max_request_bytes)` }, id: null }));
      return;
    }
    await sendWebResponse(res, await this.endpoint.fetch(request));
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}
