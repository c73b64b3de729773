import type { EngineState } from './engine-state.js';
import { redactText } from './redactor.js';
import { secretValues } from './secrets.js';

/**
 * Every secret value this daemon knows that `params` may have brought or
 * touched: the runtime's, the named session's (all sessions' without one),
 * and the request's own variables. Error messages and details pass through
 * it before they leave (a NUL-byte spawn error echoed the command; a bad
 * working_dir echoed a path).
 */
export function secretsFor(st: EngineState, params?: unknown): string[] {
  const p: { session_id?: unknown; env?: unknown; secret_keys?: unknown } = typeof params === 'object' && params !== null ? params : {};
  const values = new Set(st.runtimeSecrets);
  const named = typeof p.session_id === 'string' ? st.sessions.get(p.session_id) : undefined;
  for (const s of named ? [named] : st.sessions.values()) for (const v of secretValues(s.envRecord(), s.secretKeys)) values.add(v);
  if (typeof p.env === 'object' && p.env !== null) {
    const keys = new Set(Array.isArray(p.secret_keys) ? p.secret_keys.filter((k): k is string => typeof k === 'string') : []);
    if (named) for (const k of named.secretKeys) keys.add(k);
    const env = Object.fromEntries(Object.entries(p.env).filter((e): e is [string, string] => typeof e[1] === 'string'));
    for (const v of secretValues(env, keys)) values.add(v);
  }
  return [...values];
}

/** An error as it may be logged: name and message with every known secret replaced. */
export function redactError(st: EngineState, err: unknown): { name: string; message: string } {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: redactText(e.message, secretsFor(st)) };
}
