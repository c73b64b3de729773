import type { Limits, Runtime } from '../protocol/common.js';
import type { ParamsOf } from '../protocol/methods.js';

/**
 * How the sessions an MCP server creates are set up: chosen by whoever runs
 * the server (flags and TRL_* variables), never by the model's arguments.
 * Unset fields leave the daemon's defaults.
 */
export interface SessionSettings {
  runtime?: Runtime;
  working_dir?: string;
  workspace?: string;
  network?: boolean;
  limits?: Limits;
  /** Default per-command timeout; 0 = none (a call returns at its yield time anyway). */
  timeout_s: number;
}

/** The session.create parameters of a session named `name`. */
export function createParams(settings: SessionSettings, name: string): ParamsOf<'session.create'> {
  const p: ParamsOf<'session.create'> = { name, timeout_s: settings.timeout_s };
  if (settings.runtime !== undefined) p.runtime = settings.runtime;
  if (settings.working_dir !== undefined) p.working_dir = settings.working_dir;
  if (settings.workspace !== undefined) p.workspace = settings.workspace;
  if (settings.network !== undefined) p.network = settings.network;
  if (settings.limits !== undefined) p.limits = settings.limits;
  return p;
}
