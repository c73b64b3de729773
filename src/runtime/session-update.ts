import { profileOf } from '../compat/profile.js';
import { TrlError } from '../protocol/errors.js';
import type { SessionInfo } from '../protocol/session.js';
import { invalidParam, requireDirectory } from './checks.js';
import type { EngineState } from './engine-state.js';
import { redactText } from './redactor.js';
import { secretValues } from './secrets.js';

export interface SessionUpdate {
  session_id: string;
  env?: Record<string, string>;
  unset_env?: string[];
  working_dir?: string;
  name?: string;
  timeout_s?: number;
  secret_keys?: string[];
  redact_output?: boolean;
}

/** session.update: change a session's state between commands. */
export function updateSession(st: EngineState, params: SessionUpdate): SessionInfo {
  const s = st.getSession(params.session_id);
  // Paths of an isolated tier are the sandbox's or container's own (its /tmp): its shell checks them.
  if (params.working_dir !== undefined && !s.isolated) {
    const secrets = secretValues({ ...s.envRecord(), ...(params.env ?? {}) }, new Set([...s.secretKeys, ...(params.secret_keys ?? [])]));
    requireDirectory('working_dir', params.working_dir, (p) => redactText(p, secrets));
  }
  if (params.name !== undefined && profileOf(st.config).uniqueNames && [...st.sessions.values()].some((o) => o !== s && o.name === params.name)) {
    throw invalidParam('name', `a live session is already named '${params.name}'; pick another name`);
  }
  if (s.foreground && (params.env || params.unset_env || params.working_dir)) {
    throw new TrlError('SESSION_BUSY', `session '${s.id}' is running command '${s.foreground.id}'; update its state after the command ends`);
  }
  for (const [k, v] of Object.entries(params.env ?? {})) s.setVar(k, v);
  for (const k of params.unset_env ?? []) s.unsetVar(k);
  if (params.working_dir !== undefined) s.setCwd(params.working_dir);
  if (params.name !== undefined) s.name = params.name;
  if (params.timeout_s !== undefined) s.timeoutS = params.timeout_s;
  for (const k of params.secret_keys ?? []) s.secretKeys.add(k);
  if (params.redact_output !== undefined) s.redactOutput = params.redact_output;
  s.touch();
  st.log.info({ session_id: s.id, env_keys: Object.keys(params.env ?? {}), unset_env: params.unset_env ?? [] }, 'session updated');
  st.audit?.write({ method: 'session.update', session_id: s.id, env_keys: Object.keys(params.env ?? {}), unset_env: params.unset_env, working_dir: params.working_dir });
  return s.info();
}
