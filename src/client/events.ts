import type { ErrorObject } from '../protocol/errors.js';
import type { ExecResult } from '../protocol/exec.js';

export type OutputName = 'stdout' | 'stderr';

/** Output of a command: `data` (text, or base64 with `encoding: 'base64'`) starts at byte `offset` of its stream. */
export interface OutputEvent {
  stream_id: string;
  event: OutputName;
  data: string;
  offset: number;
}

/** The reader fell behind the command's bounded buffer: `dropped_bytes` of `stream` are gone; output goes on at `offset`. */
export interface GapEvent {
  stream_id: string;
  event: 'gap';
  stream: OutputName;
  dropped_bytes: number;
  offset: number;
}

/** What exec.run returns, without the output (it came as events). */
export type ExitData = Omit<ExecResult, 'stdout' | 'stderr'>;

/** The command ended: its exit code, signal, timing and byte counts. Always the last event. */
export interface ExitEvent {
  stream_id: string;
  event: 'exit';
  data: ExitData;
}

/** The events of exec.stream and exec.attach, discriminated by `event` (an `error` event is thrown as a TrlClientError instead). */
export type ExecEvent = OutputEvent | GapEvent | ExitEvent;

/** The daemon ended a stream with an error (PROTOCOL: a stream's last event is `exit` or `error`). */
export interface ErrorEvent {
  stream_id: string;
  event: 'error';
  data: ErrorObject;
}
