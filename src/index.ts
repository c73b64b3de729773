/**
 * The trl SDK: typed calls to a trl daemon, and the protocol's schemas (zod).
 * Loads none of the daemon's dependencies; `trl/client` is the same SDK without the schemas.
 */
export * from './client/index.js';
export * from './protocol/index.js';
