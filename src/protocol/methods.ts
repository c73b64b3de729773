import type { z } from 'zod';
import * as exec from './exec.js';
import * as session from './session.js';
import * as system from './system.js';

export interface MethodSpec {
  params: z.ZodType;
  result: z.ZodType;
  summary: string;
  /** Streaming methods answer, then send events on the same connection. */
  streaming?: boolean;
}

/**
 * Every method of the protocol: the single source of truth for validation,
 * the SDK's types and the generated docs/protocol.md.
 */
export const METHODS = {
  'system.ping': { params: system.PingParams, result: system.PingResult, summary: 'Liveness check.' },
  'system.stats': { params: system.StatsParams, result: system.StatsResult, summary: 'Counters: sessions, commands, memory, fds, zombies.' },
  'system.info': { params: system.InfoParams, result: system.InfoResult, summary: 'Version, tiers and their health, limits in force, enforcement mechanism.' },
  'session.create': { params: session.SessionCreateParams, result: session.SessionInfo, summary: 'Create a session: its own cwd, env, process tree, limits and tier.' },
  'session.list': { params: session.SessionListParams, result: session.SessionListResult, summary: 'All live sessions.' },
  'session.info': { params: session.SessionInfoParams, result: session.SessionInfo, summary: 'One session (env keys only, never values).' },
  'session.update': { params: session.SessionUpdateParams, result: session.SessionInfo, summary: 'Change env, cwd, name or default timeout between commands.' },
  'session.destroy': { params: session.SessionDestroyParams, result: session.SessionDestroyResult, summary: 'Kill every process of the session and release its resources.' },
  'exec.run': { params: exec.ExecRunParams, result: exec.ExecResult, summary: 'Run a command and return its buffered result (or, with yield_after_s, what it printed so far).' },
  'exec.stream': { params: exec.ExecStreamParams, result: exec.StreamOpened, summary: 'Run a command in the foreground slot and stream its output as events (stdout, stderr, gap, exit).', streaming: true },
  'exec.start': { params: exec.ExecStartParams, result: exec.ExecStartResult, summary: 'Start a background command and return at once.' },
  'exec.list': { params: exec.ExecListParams, result: exec.ExecListResult, summary: 'Commands of a session, running and retained.' },
  'exec.info': { params: exec.ExecInfoParams, result: exec.CommandInfo, summary: 'State, exit fields and byte counts of one command.' },
  'exec.output': { params: exec.ExecOutputParams, result: exec.ExecOutputResult, summary: 'Read buffered output from a byte offset; wait_ms long-polls for new bytes.' },
  'exec.attach': { params: exec.ExecAttachParams, result: exec.StreamOpened, summary: 'Replay buffered output from an offset, then stream live events.', streaming: true },
  'exec.wait': { params: exec.ExecWaitParams, result: exec.ExecResult, summary: 'Wait for a command to end and return its result.' },
  'exec.input': { params: exec.ExecInputParams, result: exec.ExecInputResult, summary: "Write to a command's stdin; eof closes it." },
  'exec.signal': { params: exec.ExecSignalParams, result: exec.ExecSignalResult, summary: "Deliver a signal to the command's whole process tree." },
  'exec.cancel': { params: exec.ExecCancelParams, result: exec.ExecCancelResult, summary: "SIGTERM, grace, SIGKILL to a command's tree (or every command of a session); the session survives." },
  'exec.resize': { params: exec.ExecResizeParams, result: exec.ExecResizeResult, summary: 'Resize the pseudo-terminal of a pty command.' },
} as const satisfies Record<string, MethodSpec>;

export type MethodName = keyof typeof METHODS;
export type ParamsOf<M extends MethodName> = z.input<(typeof METHODS)[M]['params']>;
export type ResultOf<M extends MethodName> = z.output<(typeof METHODS)[M]['result']>;

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(METHODS, name);
}
