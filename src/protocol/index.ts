export * from './common.js';
export * from './envelope.js';
export * from './errors.js';
export * from './exec.js';
export * from './methods.js';
export * from './session.js';
export * from './system.js';
export { PROTOCOL_VERSION } from './version.js';
export * from './transport.js';
