import { TrlClient, type ClientOptions } from './client.js';
import type { HttpClientOptions, TrlHttpClient } from './http-client.js';
import type { TrlWsClient, WsClientOptions } from './ws-client.js';

export type AnyTrlClient = TrlClient | TrlHttpClient | TrlWsClient;
export type ConnectOptions = ClientOptions | HttpClientOptions | WsClientOptions;

/**
 * Connect over whichever transport the options name: `{socketPath}` (or
 * nothing) → the Unix socket; `{url: 'http(s)://…', token}` → HTTP;
 * `{url: 'ws(s)://…', token}` → one WebSocket. All three offer call/stream/close.
 * The HTTP and WebSocket clients are loaded only when asked for.
 */
export async function connectTrl(options: ConnectOptions = {}): Promise<AnyTrlClient> {
  if ('url' in options && typeof options.url === 'string') {
    if (/^wss?:/i.test(options.url)) return (await import('./ws-client.js')).TrlWsClient.connect(options);
    return (await import('./http-client.js')).TrlHttpClient.connect(options);
  }
  return TrlClient.connect(options as ClientOptions);
}
