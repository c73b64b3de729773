import { TAG_VAR } from '../tiers/shared/process-table.js';

/**
 * The runtime-level environment every session starts from: the daemon's own
 * environment without its `TRL_*` settings (the auth token among them), which
 * must never reach a child.
 */
export function runtimeEnv(source: NodeJS.ProcessEnv): Map<string, string> {
  const env = new Map<string, string>();
  for (const [k, v] of Object.entries(source)) {
    if (v === undefined || k.startsWith('TRL_') || k === TAG_VAR) continue;
    env.set(k, v);
  }
  return env;
}

/** Variables a shell sets for itself: they never become session state. */
const SHELL_OWN = new Set(['PWD', 'SHLVL', '_', TAG_VAR]);

/**
 * The session env after a command whose shell exported `captured`: what the
 * command exported or unset persists; its command-level variables do not
 * (unless the command itself changed them), nor do the shell's own.
 */
export function persistEnv(before: ReadonlyMap<string, string>, captured: ReadonlyMap<string, string>, commandEnv: Readonly<Record<string, string>>): Map<string, string> {
  const next = new Map(captured);
  const restore = (k: string) => {
    const v = before.get(k);
    if (v === undefined) next.delete(k);
    else next.set(k, v);
  };
  for (const k of SHELL_OWN) restore(k);
  for (const [k, v] of Object.entries(commandEnv)) if (next.get(k) === v) restore(k);
  return next;
}

/** Keys that differ from the runtime environment: what a session set itself. */
export function sessionEnvKeys(env: ReadonlyMap<string, string>, base: ReadonlyMap<string, string>): string[] {
  const keys: string[] = [];
  for (const [k, v] of env) if (base.get(k) !== v) keys.push(k);
  return keys.sort();
}
