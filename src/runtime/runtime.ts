import { readdirSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import type { Backend, TierHealth, TierName } from '../backends/backend.js';
import { SpawnError } from '../backends/host.js';
import { zombieChildren } from '../backends/process-table.js';
import type { Config } from '../config/config-schema.js';
import { TrlError } from '../protocol/errors.js';
import type { ExecResult, ExecRunParams } from '../protocol/exec.js';
import type { SessionCreateParams, SessionInfo } from '../protocol/session.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { z } from 'zod';
import type { InfoResult, StatsResult } from '../protocol/system.js';
import { invalidParam, requireDirectory, requireExecutable, resolveProgram } from './checks.js';
import { Command } from './command.js';
import { persistEnv, runtimeEnv } from './env.js';
import { execResult } from './exec-result.js';
import { Session } from './session.js';
import { captureScript, parseCapturedState } from './state-capture.js';


const HOUSEKEEPING_MS = 1000;

/**
 * Sessions and commands, independent of any transport: every protocol method
 * ends in one call here.
 */
export class Runtime {
  readonly startedAt = Date.now();
  private readonly sessions = new Map<string, Session>();
  private readonly baseEnv: Map<string, string>;
  private totalCommands = 0;
  private draining = false;
  private readonly housekeeping: NodeJS.Timeout;

  constructor(
    readonly config: Config,
    private readonly backends: Map<TierName, Backend>,
    private readonly health: Map<TierName, TierHealth>,
    readonly instanceId: string,
    private readonly log: Logger,
    processEnv: NodeJS.ProcessEnv = process.env,
  ) {
    this.baseEnv = runtimeEnv(processEnv);
    this.housekeeping = setInterval(() => this.expireSessions(), HOUSEKEEPING_MS);
    this.housekeeping.unref();
  }

  get defaultRuntime(): TierName {
    return 'host';
  }

  // ---- sessions -------------------------------------------------------------

  async createSession(params: SessionCreateParams, ephemeral = false): Promise<Session> {
    this.refuseWhenDraining();
    if (this.sessions.size >= this.config.max_sessions) {
      throw new TrlError(
        'MAX_SESSIONS_REACHED',
        `${this.sessions.size} sessions are live, the maximum (max_sessions ${this.config.max_sessions}); destroy one with session.destroy or raise --max-sessions`,
        { max_sessions: this.config.max_sessions },
      );
    }
    const tier = params.runtime ?? this.defaultRuntime;
    const backend = this.backends.get(tier);
    if (!backend || !this.health.get(tier)?.available) {
      const why = this.health.get(tier)?.detail ?? `the '${tier}' tier is not configured in this daemon`;
      throw new TrlError('RUNTIME_UNAVAILABLE', `runtime '${tier}' is unavailable: ${why}; use runtime 'host' or fix the tier (see trl info)`, { runtime: tier });
    }
    if (params.network === false && tier === 'host') {
      throw invalidParam('network', "the host tier cannot cut the network; use runtime 'sandbox' or 'docker' for network: false");
    }
    if (params.image !== undefined && tier !== 'docker') throw invalidParam('image', "image applies only to runtime 'docker'");
    if (params.name !== undefined && [...this.sessions.values()].some((s) => s.name === params.name)) {
      throw invalidParam('name', `a live session is already named '${params.name}'; pick another name or destroy that session`);
    }
    const shell = params.shell ?? this.config.default_shell;
    requireExecutable(shell);
    const cwd = params.working_dir ?? this.config.default_working_dir ?? process.cwd();
    requireDirectory('working_dir', cwd);
    const workspace = params.workspace ?? cwd;
    if (params.workspace !== undefined) requireDirectory('workspace', workspace);
    const limits = this.sessionLimits(params.limits ?? {});

    const env = new Map(this.baseEnv);
    for (const [k, v] of Object.entries(params.env ?? {})) env.set(k, v);
    const session = new Session({
      name: params.name ?? null,
      shell,
      cwd,
      workspace,
      env,
      timeoutS: params.timeout_s ?? this.config.default_timeout_s,
      limits,
      runtime: tier,
      ephemeral,
    });
    this.sessions.set(session.id, session);
    try {
      session.backend = await backend.createSession({ sessionTag: session.tag, limits });
    } catch (err) {
      this.sessions.delete(session.id);
      throw new TrlError('RUNTIME_UNAVAILABLE', `could not start a '${tier}' session: ${(err as Error).message}`);
    }
    session.state = 'idle';
    this.log.info({ session_id: session.id, runtime: tier, env_keys: [...Object.keys(params.env ?? {})], ephemeral }, 'session created');
    return session;
  }

  /** Session limits: each may only lower the daemon's maximum. */
  private sessionLimits(requested: NonNullable<SessionCreateParams['limits']>): Session['limits'] {
    const max = this.config.max_output_bytes;
    if (requested.max_output_bytes !== undefined && requested.max_output_bytes > max) {
      throw invalidParam('limits.max_output_bytes', `${requested.max_output_bytes} is above the daemon maximum ${max} (max_output_bytes); pass at most ${max}`);
    }
    return { ...requested, max_output_bytes: requested.max_output_bytes ?? max };
  }

  getSession(id: string): Session {
    const s = this.sessions.get(id);
    if (!s || s.state === 'terminated') {
      throw new TrlError('SESSION_NOT_FOUND', `no session '${id}'; list live sessions with session.list or create one with session.create`, { session_id: id });
    }
    return s;
  }

  listSessions(): SessionInfo[] {
    return [...this.sessions.values()].filter((s) => !s.ephemeral).map((s) => s.info(this.baseEnv));
  }

  sessionInfo(s: Session): SessionInfo {
    return s.info(this.baseEnv);
  }

  updateSession(params: { session_id: string; env?: Record<string, string>; unset_env?: string[]; working_dir?: string; name?: string; timeout_s?: number }): SessionInfo {
    const s = this.getSession(params.session_id);
    if (params.working_dir !== undefined) requireDirectory('working_dir', params.working_dir);
    if (params.name !== undefined && [...this.sessions.values()].some((o) => o !== s && o.name === params.name)) {
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
    s.touch();
    this.log.info({ session_id: s.id, env_keys: Object.keys(params.env ?? {}), unset_env: params.unset_env ?? [] }, 'session updated');
    return s.info(this.baseEnv);
  }

  async destroySession(id: string, force = false, reason = 'destroy'): Promise<{ session_id: string; state: 'terminated'; killed_processes: number }> {
    const s = this.sessions.get(id);
    if (!s) return Promise.reject(this.sessionNotFound(id));
    if (!s.destroying) {
      s.destroying = (async () => {
        const grace = force ? 0 : this.graceMs;
        for (const c of s.running) c.markKilled(reason === 'shutdown' ? 'shutdown' : 'destroy');
        const leaders = [...s.running].map((c) => c.pid).filter((p) => p > 0);
        const killed = s.backend ? await s.backend.destroy(grace, leaders) : 0;
        s.state = 'terminated';
        this.sessions.delete(id);
        this.log.info({ session_id: id, killed_processes: killed, reason }, 'session destroyed');
        return killed;
      })();
    }
    const killed = await s.destroying;
    return { session_id: id, state: 'terminated', killed_processes: killed };
  }

  private sessionNotFound(id: string): TrlError {
    return new TrlError('SESSION_NOT_FOUND', `no session '${id}'; list live sessions with session.list`, { session_id: id });
  }

  private get graceMs(): number {
    return this.config.kill_grace_s * 1000;
  }

  // ---- commands -------------------------------------------------------------

  async run(params: ExecRunParams): Promise<ExecResult> {
    this.refuseWhenDraining();
    const session = params.session_id !== undefined ? this.getSession(params.session_id) : await this.createSession({}, true);
    try {
      return await this.runIn(session, params);
    } finally {
      // The result does not wait for the cleanup: background processes get SIGTERM now, SIGKILL after the grace.
      if (session.ephemeral) void this.destroySession(session.id, false, 'ephemeral');
    }
  }

  private async runIn(session: Session, params: ExecRunParams): Promise<ExecResult> {
    if (session.foreground) {
      throw new TrlError(
        'SESSION_BUSY',
        `session '${session.id}' is already running command '${session.foreground.id}'; wait for it, cancel it, or use another session`,
        { session_id: session.id, command_id: session.foreground.id },
      );
    }
    if (session.commandCount >= this.config.session_max_commands) {
      throw new TrlError(
        'SESSION_LIMIT_EXCEEDED',
        `session '${session.id}' has run ${session.commandCount} commands, its maximum (session_max_commands); create a new session`,
        { max_commands: this.config.session_max_commands },
      );
    }
    const stdin = params.stdin === undefined ? null : Buffer.from(params.stdin, params.stdin_encoding ?? 'utf8');
    if (stdin && stdin.length > this.config.max_stdin_bytes) {
      throw invalidParam('stdin', `${stdin.length} bytes is over the stdin limit of ${this.config.max_stdin_bytes} bytes (max_stdin_bytes); write larger input to a file and read it from there`);
    }
    const maxOut = params.max_output_bytes ?? session.limits.max_output_bytes;
    if (maxOut > this.config.max_output_bytes) {
      throw invalidParam('max_output_bytes', `${maxOut} is above the daemon maximum ${this.config.max_output_bytes}; pass at most that`);
    }
    const cwd = params.working_dir === undefined ? session.cwd : resolvePath(session.cwd, params.working_dir);
    if (params.working_dir !== undefined) requireDirectory('working_dir', cwd);

    const commandEnv = params.env ?? {};
    const env: Record<string, string> = { ...session.envRecord(), ...commandEnv, PWD: cwd };

    const persist = (params.persist_state ?? true) && params.command !== undefined;
    let program: Command['spec']['program'];
    if (params.command !== undefined) {
      program = { kind: 'shell', shell: session.shell, script: persist ? captureScript(params.command) : params.command };
    } else {
      const argv = params.argv!;
      const resolved = resolveProgram(argv[0]!, env.PATH, cwd);
      if (!resolved) {
        throw new TrlError('SPAWN_FAILED', `program '${argv[0]}' was not found or is not executable in the session's PATH; pass an absolute path or fix PATH`, { program: argv[0] });
      }
      program = { kind: 'argv', argv: [resolved, ...argv.slice(1)] };
    }
    const timeoutS = params.timeout_s ?? session.timeoutS;
    const cmd = new Command(
      {
        sessionId: session.id,
        program,
        env,
        cwd,
        stdin,
        timeoutMs: timeoutS * 1000,
        idleTimeoutMs: (params.idle_timeout_s ?? 0) * 1000,
        maxOutputBytes: maxOut,
        capture: persist,
        graceMs: this.graceMs,
      },
      session.backend!,
    );

    session.foreground = cmd;
    session.state = 'running';
    session.commandCount++;
    session.touch();
    try {
      try {
        await cmd.start();
      } catch (err) {
        if (err instanceof SpawnError) {
          throw new TrlError('SPAWN_FAILED', `could not start the command: ${err.message}; check the shell, program and working_dir`, { errno: err.code });
        }
        throw err;
      }
      this.totalCommands++;
      session.running.add(cmd);
      this.log.debug({ session_id: session.id, command_id: cmd.id, env_keys: Object.keys(commandEnv), pid: cmd.pid }, 'command started');
      await cmd.done;
    } finally {
      session.running.delete(cmd);
      session.foreground = null;
      if (session.state === 'running') session.state = 'idle';
      session.touch();
    }
    this.persistState(session, cmd, commandEnv, params.working_dir !== undefined);
    const result = execResult(cmd, session.cwd, params.encoding ?? 'utf8');
    this.log.debug(
      { session_id: session.id, command_id: cmd.id, exit_code: result.exit_code, signal: result.signal, duration_ms: result.duration_ms, timed_out: result.timed_out },
      'command finished',
    );
    if (params.check && result.exit_code !== 0) {
      throw new TrlError('COMMAND_FAILED', `the command exited with ${result.exit_code}${result.signal ? ` (${result.signal})` : ''}; see details for its output`, { result });
    }
    return result;
  }

  /**
   * Take over the cwd and exported env the command's shell reported. Most
   * commands change nothing, so a report identical to the last plain one
   * (no command env, no working_dir override, no session.update since) is not
   * parsed again.
   */
  private persistState(session: Session, cmd: Command, commandEnv: Record<string, string>, cwdOverridden: boolean): void {
    const raw = cmd.stateRaw;
    if (!raw || (session.lastStateRaw && raw.equals(session.lastStateRaw))) return;
    const captured = parseCapturedState(raw);
    if (!captured) return;
    if (!cwdOverridden) session.cwd = captured.cwd;
    session.env = persistEnv(session.env, captured.env, commandEnv);
    session.lastStateRaw = Object.keys(commandEnv).length === 0 && !cwdOverridden ? raw : null;
  }

  // ---- system ---------------------------------------------------------------

  stats(): z.infer<typeof StatsResult> {
    let running = 0;
    const tiers: Record<string, { sessions: number; running_commands: number }> = {};
    for (const s of this.sessions.values()) {
      running += s.running.size;
      const t = (tiers[s.runtime] ??= { sessions: 0, running_commands: 0 });
      t.sessions++;
      t.running_commands += s.running.size;
    }
    let fds = 0;
    try {
      fds = readdirSync('/proc/self/fd').length;
    } catch {
      /* not Linux */
    }
    return {
      active_sessions: this.sessions.size,
      running_commands: running,
      total_commands_run: this.totalCommands,
      uptime_s: this.uptime(),
      memory_rss_bytes: process.memoryUsage.rss(),
      open_fds: fds,
      zombie_children: zombieChildren(),
      tiers,
    };
  }

  info(): z.infer<typeof InfoResult> {
    const tiers: Record<string, TierHealth> = {};
    for (const name of ['host', 'sandbox', 'docker'] as const) {
      tiers[name] = this.health.get(name) ?? { available: false, isolated: name !== 'host', detail: 'not configured in this daemon' };
    }
    const c = this.config;
    return {
      version: PROTOCOL_VERSION,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      pid: process.pid,
      instance_id: this.instanceId,
      default_runtime: this.defaultRuntime,
      tiers,
      enforcement: this.backends.get('host')!.enforcement(),
      limits: {
        max_sessions: c.max_sessions,
        default_timeout_s: c.default_timeout_s,
        kill_grace_s: c.kill_grace_s,
        max_output_bytes: c.max_output_bytes,
        max_stdin_bytes: c.max_stdin_bytes,
        max_request_bytes: c.max_request_bytes,
        max_idle_sec: c.max_idle_sec,
        session_ttl_sec: c.session_ttl_sec,
        session_max_commands: c.session_max_commands,
      },
    };
  }

  uptime(): number {
    return Math.round((Date.now() - this.startedAt) / 10) / 100;
  }

  // ---- lifecycle ------------------------------------------------------------

  private refuseWhenDraining(): void {
    if (this.draining) throw new TrlError('SHUTTING_DOWN', 'the daemon is shutting down and accepts no new work; retry against a running daemon');
  }

  private expireSessions(): void {
    const now = Date.now();
    const idle = this.config.max_idle_sec * 1000;
    const ttl = this.config.session_ttl_sec * 1000;
    for (const s of this.sessions.values()) {
      if (s.destroying || s.ephemeral) continue;
      const idleFor = now - s.lastActivity.getTime();
      if (ttl > 0 && now - s.createdAt.getTime() >= ttl) void this.destroySession(s.id, false, 'ttl');
      else if (idle > 0 && s.running.size === 0 && idleFor >= idle) void this.destroySession(s.id, false, 'idle');
    }
  }

  /** Stop taking work, kill every command and session. */
  async shutdown(): Promise<void> {
    this.draining = true;
    clearInterval(this.housekeeping);
    await Promise.all([...this.sessions.keys()].map((id) => this.destroySession(id, false, 'shutdown').catch(() => undefined)));
  }
}
