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
  'exec.run': { params: exec.ExecRunParams, result: exec.ExecResult, summary: 'Run a command and return its buffered result.' },
} as const satisfies Record<string, MethodSpec>;

export type MethodName = keyof typeof METHODS;
export type ParamsOf<M extends MethodName> = z.input<(typeof METHODS)[M]['params']>;
export type ResultOf<M extends MethodName> = z.output<(typeof METHODS)[M]['result']>;

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(METHODS, name);
}
