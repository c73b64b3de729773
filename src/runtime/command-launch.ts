import { TrlError } from '../protocol/errors.js';
import type { ExecStreamParams } from '../protocol/exec.js';
import { SpawnError } from '../tiers/shared/spawn-error.js';
import { requireDirectoryKind } from './checks.js';
import { Command } from './command.js';
import { commandSpec } from './command-spec.js';
import type { EngineState } from './engine-state.js';
import { exitCodeOf } from './exec-result.js';
import { redactText } from './redactor.js';
import type { Session } from './session.js';
import { createSession } from './session-create.js';
import { destroyInBackground } from './session-destroy.js';
import { asError } from '../tiers/shared/thrown.js';

/**
 * Validate, spawn and register a command in its session (a fresh ephemeral
 * one without a session_id). Its completion (the session's slot, state
 * persistence, retention, the ephemeral session's end) is handled here,
 * whoever waits for it.
 */
export async function launch(st: EngineState, params: ExecStreamParams, background: boolean, method: string): Promise<{ session: Session; cmd: Command }> {
  st.refuseWhenDraining();
  const session = params.session_id !== undefined ? st.getSession(params.session_id) : await createSession(st, {}, true);
  try {
    refuseOverLimits(st, session);
    const tier = session.tierSession;
    if (!tier) throw st.sessionNotFound(session.id);
    const spec = commandSpec(session, params, st.config, background);
    if (params.working_dir !== undefined && tier.directoryKind) {
      requireDirectoryKind('working_dir', spec.cwd, await tier.directoryKind(spec.cwd), (t) => redactText(t, spec.secrets));
      // Other commands may have taken the room meanwhile.
      refuseOverLimits(st, session);
    }
    const cmd = new Command(spec, tier);
    session.begin(cmd);
    const starting = cmd.start();
    session.starting.add(starting);
    try {
      await starting;
    } catch (err) {
      session.abandon(cmd);
      if (err instanceof SpawnError) {
        throw new TrlError('SPAWN_FAILED', `could not start the command: ${err.message}; check the shell, program and working_dir`, { errno: err.code });
      }
      throw err;
    } finally {
      session.starting.delete(starting);
    }
    st.totalCommands++;
    session.started(cmd);
    st.registry.add(session, cmd);
    st.log.debug({ session_id: session.id, command_id: cmd.id, env_keys: Object.keys(params.env ?? {}), pid: cmd.pid, background }, 'command started');
    st.audit?.write({
      method,
      session_id: session.id,
      command_id: cmd.id,
      command: redactText(cmd.spec.text, cmd.spec.secrets),
      tier: session.runtime,
      env_keys: Object.keys(params.env ?? {}),
      pty: cmd.pty !== null,
    });
    void cmd.done.then(() => finished(st, session, cmd, params)).catch((err: unknown) => st.log.error({ command_id: cmd.id, err: { name: asError(err).name } }, 'finishing a command failed'));
    return { session, cmd };
  } catch (err) {
    if (session.ephemeral) destroyInBackground(st, session.id, 'ephemeral');
    throw err;
  }
}

/** RESOURCE_PRESSURE and SESSION_LIMIT_EXCEEDED: the daemon's and the session's bounds on commands. */
function refuseOverLimits(st: EngineState, session: Session): void {
  const { config } = st;
  if (st.runningCommands() >= config.max_running_commands) {
    throw new TrlError('RESOURCE_PRESSURE', `${config.max_running_commands} commands are running, the daemon's maximum (max_running_commands); wait for some to end or cancel them`, {
      max_running_commands: config.max_running_commands,
    });
  }
  if (session.busy >= config.max_session_running) {
    throw new TrlError('RESOURCE_PRESSURE', `session '${session.id}' runs ${session.busy} commands, its maximum (max_session_running); wait for some to end or cancel them`, {
      max_session_running: config.max_session_running,
    });
  }
  if (session.commandCount >= config.session_max_commands) {
    throw new TrlError('SESSION_LIMIT_EXCEEDED', `session '${session.id}' has run ${session.commandCount} commands, its maximum (session_max_commands); create a new session`, {
      max_commands: config.session_max_commands,
    });
  }
}

function finished(st: EngineState, session: Session, cmd: Command, params: ExecStreamParams): void {
  session.finish(cmd);
  if (!cmd.background && cmd.spec.capture) session.persistState(cmd.stateRaw, params.env ?? {}, params.working_dir !== undefined);
  st.log.debug(
    { session_id: session.id, command_id: cmd.id, exit_code: exitCodeOf(cmd), signal: cmd.exit?.signal ?? null, duration_ms: cmd.durationMs, kill_reason: cmd.killReason },
    'command finished',
  );
  st.audit?.write({
    method: 'exec.end',
    session_id: session.id,
    command_id: cmd.id,
    tier: session.runtime,
    exit_code: exitCodeOf(cmd),
    signal: cmd.exit?.signal ?? null,
    duration_ms: Math.round(cmd.durationMs),
    stdout_bytes: cmd.stdout.total,
    stderr_bytes: cmd.stderr.total,
    kill_reason: cmd.killReason,
  });
  st.registry.retain(session, cmd);
  // The result does not wait for the cleanup: background processes get SIGTERM now, SIGKILL after the grace.
  if (session.ephemeral) destroyInBackground(st, session.id, 'ephemeral');
}
