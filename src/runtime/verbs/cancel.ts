import type { EngineState } from '../engine-state.js';

/** exec.cancel: SIGTERM, grace, SIGKILL to the tree(s); resolves once they are complete, so the session is usable again. */
export async function cancel(st: EngineState, target: { command_id: string } | { session_id: string }) {
  let targets;
  if ('command_id' in target) targets = [st.getCommand(target.command_id)];
  else {
    const session = st.getSession(target.session_id);
    // A command whose spawn is under way runs already, or is about to: it is the session's too. (Its launch
    // counts it running before this resumes: the launch awaited the same spawn first.)
    if (session.starting.size > 0) await Promise.allSettled([...session.starting]);
    targets = [...session.running];
  }
  const running = targets.filter((c) => c.running);
  for (const c of running) st.audit?.write({ method: 'exec.cancel', session_id: c.spec.sessionId, command_id: c.id });
  await Promise.all(
    running.map(async (c) => {
      await c.kill('cancel', st.graceMs);
      await c.done;
    }),
  );
  return { cancelled: running.map((c) => c.id) };
}
