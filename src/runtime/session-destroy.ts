import { TrlError } from '../protocol/errors.js';
import type { EngineState } from './engine-state.js';
import { redactError } from './request-secrets.js';

export interface Destroyed {
  session_id: string;
  state: 'terminated';
  killed_processes: number;
}

/**
 * session.destroy (and shutdown, expiry, an ephemeral session's end): mark
 * its running commands killed, kill every process of the session through its
 * tier, and forget it. Concurrent destroys of one session share one.
 */
export async function destroySession(st: EngineState, id: string, force = false, reason = 'destroy'): Promise<Destroyed> {
  const s = st.sessions.get(id);
  if (!s) throw st.sessionNotFound(id);
  s.destroying ??= (async () => {
    const grace = force ? 0 : st.graceMs;
    for (const c of s.running) c.markKilled(reason === 'shutdown' ? 'shutdown' : 'destroy');
    const leaders = [...s.running].map((c) => c.pid).filter((p) => p > 0);
    const killed = s.tierSession ? await s.tierSession.destroy(grace, leaders) : 0;
    s.state = 'terminated';
    st.sessions.delete(id);
    st.log.info({ session_id: id, killed_processes: killed, reason }, 'session destroyed');
    st.audit?.write({ method: 'session.destroy', session_id: id, tier: s.runtime, killed_processes: killed, reason });
    return killed;
  })();
  const killed = await s.destroying;
  return { session_id: id, state: 'terminated', killed_processes: killed };
}

/**
 * A destroy nobody waits for (ephemeral sessions, expiry). It must never
 * reject unhandled: the session may already be gone (a shutdown took it),
 * and a tier may fail; either is logged, the daemon carries on.
 */
export function destroyInBackground(st: EngineState, id: string, reason: string): void {
  if (!st.sessions.has(id)) return;
  destroySession(st, id, false, reason).catch((err: unknown) => {
    if (err instanceof TrlError && err.code === 'SESSION_NOT_FOUND') return;
    st.log.error({ session_id: id, reason, err: redactError(st, err) }, 'destroying a session failed');
  });
}

/** Housekeeping: destroy sessions past their TTL, and idle ones past the idle timeout. */
export function expireSessions(st: EngineState): void {
  const now = Date.now();
  const idle = st.config.max_idle_s * 1000;
  const ttl = st.config.session_ttl_s * 1000;
  for (const s of st.sessions.values()) {
    if (s.destroying || s.ephemeral) continue;
    const idleFor = now - s.lastActivity.getTime();
    if (ttl > 0 && now - s.createdAt.getTime() >= ttl) destroyInBackground(st, s.id, 'ttl');
    else if (idle > 0 && s.busy === 0 && idleFor >= idle) destroyInBackground(st, s.id, 'idle');
  }
}

/** Stop taking work, kill every command and session. */
export async function shutdown(st: EngineState): Promise<void> {
  st.draining = true;
  await Promise.all([...st.sessions.keys()].map((id) => destroySession(st, id, false, 'shutdown').catch(() => undefined)));
}
