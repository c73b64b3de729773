/** The trl SDK: typed calls to a trl daemon. */
export { TrlClient, type ClientOptions } from './client/client.js';
export { TrlClientError } from './client/client-error.js';
export { TrlHttpClient } from './client/http-client.js';
export { TrlWsClient } from './client/ws-client.js';
export { connectTrl, type AnyTrlClient, type ConnectOptions } from './client/connect.js';
export * from './protocol/index.js';
