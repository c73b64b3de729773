/**
 * `trl/client`: the SDK alone — the three clients, typed streams and errors,
 * and the protocol's types. It loads no package at start-up (the WebSocket
 * library only when a TrlWsClient connects), nor the protocol's schemas:
 * `import … from 'trl'` adds those (zod) for programs that validate.
 */
export { TrlClient, type ClientOptions, type OpenStream, type CallOptions } from './client.js';
export { TrlHttpClient, type HttpClientOptions } from './http-client.js';
export { TrlWsClient, type WsClientOptions } from './ws-client.js';
export { connectTrl, type AnyTrlClient, type ConnectOptions } from './connect.js';
export type { WatchStream } from './message-router.js';
export { TrlClientError, TrlErrors, clientError, isTrlClientError, type ClientErrorCode, type TrlErrorClass } from './client-error.js';
export { CommandStream, type AttachOptions, type CollectedOutput, type Offsets, type ResumeOptions, type StreamOptions } from './command-stream.js';
export type { ErrorEvent, ExecEvent, ExitData, ExitEvent, GapEvent, OutputEvent, OutputName } from './events.js';
export type { MethodName, ParamsOf, ResultOf } from '../protocol/methods.js';
export type { ErrorCode, ErrorObject } from '../protocol/errors.js';
export type { StreamEvent } from '../protocol/envelope.js';
export type { ExecResult } from '../protocol/exec.js';
export { defaultSocketPath } from '../protocol/transport.js';
