import { isSignalName } from '../../tiers/shared/signals.js';
import { invalidParam } from '../checks.js';
import type { EngineState } from '../engine-state.js';

/** exec.signal: one signal to a command's whole tree. */
export async function signal(st: EngineState, id: string, name: string) {
  const cmd = st.getCommand(id);
  const sig = name.startsWith('SIG') ? name : `SIG${name}`;
  if (!isSignalName(sig)) throw invalidParam('signal', `unknown signal '${name}'; use a name such as SIGINT, SIGTERM, SIGKILL, SIGHUP, SIGUSR1`);
  const delivered = await cmd.signal(sig);
  st.audit?.write({ method: 'exec.signal', session_id: cmd.spec.sessionId, command_id: cmd.id, signal: sig, delivered });
  return { command_id: cmd.id, signal: sig, delivered };
}
