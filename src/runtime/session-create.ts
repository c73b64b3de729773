import { realpathSync } from 'node:fs';
import { profileOf } from '../compat/profile.js';
import { TrlError } from '../protocol/errors.js';
import type { SessionCreateParams } from '../protocol/session.js';
import { WorkspaceAccessError } from '../tiers/shared/run-as.js';
import type { Tier } from '../tiers/tier.js';
import { invalidParam, isDirectory, requireDirectory, requireExecutable } from './checks.js';
import { fdLimit, openFdCount } from './daemon-resources.js';
import type { EngineState } from './engine-state.js';
import { Session } from './session.js';
import { sessionLimits } from './session-limits.js';
import { errorMessage } from '../tiers/shared/thrown.js';

/** session.create (and the ephemeral session of an exec without one): validate, place, start its tier's side. */
export async function createSession(st: EngineState, params: SessionCreateParams, ephemeral = false): Promise<Session> {
  st.refuseWhenDraining();
  refuseUnderPressure(st);
  const { config } = st;
  if (st.sessions.size >= config.max_sessions) {
    throw new TrlError('MAX_SESSIONS_REACHED', `${st.sessions.size} sessions are live, the maximum (max_sessions ${config.max_sessions}); destroy one with session.destroy or raise --max-sessions`, {
      max_sessions: config.max_sessions,
    });
  }
  const tierName = params.runtime ?? st.defaultTier;
  const tier = st.tiers.get(tierName);
  if (!tier || !st.health.get(tierName)?.available) {
    const why = st.health.get(tierName)?.detail ?? `the '${tierName}' tier is not configured in this daemon (start it with --tiers ${[...config.tiers, tierName].join(',')})`;
    throw new TrlError('RUNTIME_UNAVAILABLE', `runtime '${tierName}' is unavailable: ${why}; use another runtime or fix the tier (trl info shows each tier's health, trl doctor what it needs)`, {
      runtime: tierName,
    });
  }
  if (params.network === false && !tier.isolated) {
    throw invalidParam('network', `the ${tierName} tier cannot cut the network; use an isolated runtime (sandbox or docker) for network: false`);
  }
  if (params.image !== undefined && !tier.images) throw invalidParam('image', `image applies only to tiers that run images (not ${tierName})`);
  if (params.name !== undefined && profileOf(config).uniqueNames && [...st.sessions.values()].some((s) => s.name === params.name)) {
    throw invalidParam('name', `a live session is already named '${params.name}'; pick another name or destroy that session`);
  }
  const shell = params.shell ?? tier.defaultShell ?? config.default_shell;
  // Paths inside a container or sandbox are checked there, by the shell.
  if (tier.hostPaths) requireExecutable(shell);
  const { cwd, workspace } = placeSession(st, tier, params);
  const network = tier.isolated ? (params.network ?? false) : true;
  const limits = sessionLimits(params.limits ?? {}, config);
  const baseEnv = st.baseEnvs.get(tierName) ?? new Map<string, string>();
  const env = new Map(baseEnv);
  for (const [k, v] of Object.entries(params.env ?? {})) env.set(k, v);
  const session = new Session({
    name: params.name ?? null,
    shell,
    cwd,
    workspace,
    env,
    timeoutS: params.timeout_s ?? config.default_timeout_s,
    limits,
    runtime: tierName,
    isolated: tier.isolated,
    ephemeral,
    secretKeys: new Set(params.secret_keys ?? []),
    redactOutput: params.redact_output ?? true,
    network,
    baseEnv,
  });
  st.sessions.set(session.id, session);
  let side;
  try {
    side = await tier.createSession({ sessionTag: session.tag, limits, workspace, network, image: params.image });
  } catch (err) {
    st.sessions.delete(session.id);
    if (err instanceof WorkspaceAccessError) throw invalidParam('workspace', err.message);
    throw new TrlError('RUNTIME_UNAVAILABLE', `could not start a '${tierName}' session: ${errorMessage(err)}`, { runtime: tierName });
  }
  session.tierSession = side;
  if (session.destroying || st.draining) {
    // Destroyed (shutdown, session.destroy) while its sandbox or container was starting: that
    // destroy found nothing to kill, so this one must, or the sandbox/container outlives it.
    await side.destroy(0, []).catch(() => undefined);
    st.sessions.delete(session.id);
    st.refuseWhenDraining();
    throw st.sessionNotFound(session.id);
  }
  session.state = 'idle';
  const envKeys = Object.keys(params.env ?? {});
  st.log.info({ session_id: session.id, runtime: tierName, network, ...side.describe(), env_keys: envKeys, ephemeral }, 'session created');
  st.audit?.write({ method: 'session.create', session_id: session.id, tier: tierName, env_keys: envKeys, ephemeral });
  return session;
}

/** Refuse new sessions while the daemon itself is short of file descriptors or memory. */
function refuseUnderPressure(st: EngineState): void {
  const rss = process.memoryUsage.rss();
  if (rss > st.config.max_daemon_rss_bytes) {
    throw new TrlError(
      'RESOURCE_PRESSURE',
      `the daemon uses ${Math.round(rss / 1048576)} MiB, over max_daemon_rss_bytes; destroy idle sessions or finished commands' consumers, or raise --max-daemon-rss-bytes`,
    );
  }
  const fds = openFdCount();
  const limit = fdLimit();
  if (limit !== null && fds > limit * 0.9) {
    throw new TrlError('RESOURCE_PRESSURE', `the daemon has ${fds} of its ${limit} file descriptors open; destroy sessions or raise its open-files limit (ulimit -n)`);
  }
}

/**
 * The session's starting directory and workspace. A tier that isolates
 * nothing takes any existing directory. An isolated tier makes its workspace
 * writable from inside, so the workspace must pass the operator's policy; it
 * is used with every symlink resolved (what is checked is what is mounted),
 * and a session given a workspace starts in it.
 */
function placeSession(st: EngineState, tier: Tier, params: SessionCreateParams): { cwd: string; workspace: string } {
  const defaultCwd = st.config.default_working_dir ?? process.cwd();
  if (!tier.isolated) {
    // A profile may start host sessions elsewhere (claw-core: /tmp); an isolated tier's workspace default stays.
    const cwd = params.working_dir ?? params.workspace ?? st.config.default_working_dir ?? profileOf(st.config).workingDir ?? defaultCwd;
    requireDirectory('working_dir', cwd);
    const workspace = params.workspace ?? cwd;
    if (params.workspace !== undefined) requireDirectory('workspace', workspace);
    return { cwd, workspace };
  }
  // A working_dir that is not a host directory is a path only the container has (/app of an image).
  const hostDir = params.working_dir !== undefined && isDirectory(params.working_dir) ? params.working_dir : null;
  if (params.working_dir !== undefined && tier.hostPaths && hostDir === null) requireDirectory('working_dir', params.working_dir);
  const param = params.workspace !== undefined ? 'workspace' : hostDir !== null ? 'working_dir' : 'workspace';
  const workspace = st.workspaces.check(param, params.workspace ?? hostDir ?? defaultCwd);
  if (params.working_dir === undefined) return { cwd: workspace, workspace };
  // The given path may reach the workspace through a symlink only the host has: start at its real path.
  return { cwd: hostDir !== null ? realpathSync(hostDir) : params.working_dir, workspace };
}
