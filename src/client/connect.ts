import { TrlClient, type ClientOptions } from './client.js';
import { TrlHttpClient, type HttpClientOptions } from './http-client.js';
import { TrlWsClient, type WsClientOptions } from './ws-client.js';

export type AnyTrlClient = TrlClient | TrlHttpClient | TrlWsClient;
export type ConnectOptions = ClientOptions | HttpClientOptions | WsClientOptions;

/**
 * Connect over whichever transport the options name: `{socketPath}` (or
 * nothing) → the Unix socket; `{url: 'http(s)://…', token}` → HTTP;
 * `{url: 'ws(s)://…', token}` → one WebSocket. All three offer call/stream/close.
 */
export function connectTrl(options: ConnectOptions = {}): Promise<AnyTrlClient> {
  if ('url' in options && typeof options.url === 'string') {
    return /^wss?:/i.test(options.url) ? TrlWsClient.connect(options) : TrlHttpClient.connect(options);
  }
  return TrlClient.connect(options as ClientOptions);
}
