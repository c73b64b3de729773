/** The trl SDK: typed calls to a trl daemon. */
export { TrlClient, type ClientOptions } from './client/client.js';
export { TrlClientError } from './client/client-error.js';
export * from './protocol/index.js';
