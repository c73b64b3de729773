import { realpathSync } from 'node:fs';
import { fdLimit, openFdCount } from './daemon-resources.js';
import type { Logger } from 'pino';
import type { Backend, TierHealth, TierName } from '../backends/backend.js';
import { SpawnError } from '../backends/host.js';
import { WorkspaceAccessError } from '../backends/run-as.js';
import { zombieChildren } from '../backends/process-table.js';
import type { Config } from '../config/config-schema.js';
import { TrlError } from '../protocol/errors.js';
import type { Encoding } from '../protocol/common.js';
import type { CommandInfo, ExecResult, ExecRunParams, ExecStreamParams } from '../protocol/exec.js';
import type { SessionCreateParams, SessionInfo } from '../protocol/session.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { z } from 'zod';
import type { InfoResult, StatsResult } from '../protocol/system.js';
import { signalNumber } from '../backends/signals.js';
import { invalidParam, isDirectory, requireDirectory, requireExecutable } from './checks.js';
import { Command } from './command.js';
import { commandInfo } from './command-info.js';
import { commandSpec } from './command-spec.js';
import { CommandRegistry } from './command-registry.js';
import { readOutput, type ReadOutputParams } from './read-output.js';
import { limitsInForce } from './limits-in-force.js';
import { sessionLimits } from './session-limits.js';
import { persistEnv, runtimeEnv } from './env.js';
import { execResult, exitCodeOf } from './exec-result.js';
import { Session } from './session.js';
import type { AuditLog } from './audit-log.js';
import type { WorkspacePolicy } from './workspace-policy.js';
import { redactText } from './redactor.js';
import { secretValues } from './secrets.js';
import { parseCapturedState } from './state-capture.js';




const HOUSEKEEPING_MS = 1000;

/**
 * Sessions and commands, independent of any transport: every protocol method
 * ends in one call here.
 */
export class Runtime {
  readonly startedAt = Date.now();
  private readonly sessions = new Map<string, Session>();
  private readonly registry: CommandRegistry;
  /** The daemon's runtime-level variables; each tier starts sessions from its own subset (Backend.baseEnv). */
  private readonly runtimeVars: Map<string, string>;
  private readonly baseEnvs = new Map<TierName, Map<string, string>>();
  private totalCommands = 0;
  private draining = false;
  private readonly housekeeping: NodeJS.Timeout;
  private readonly audit: AuditLog | null;
  private readonly workspaces: WorkspacePolicy;
  /** Values of the runtime-level variables that look secret (the auth token is not among them: TRL_* never reach here). */
  private readonly runtimeSecrets: string[];

  constructor(
    readonly config: Config,
    private readonly backends: Map<TierName, Backend>,
    private readonly health: Map<TierName, TierHealth>,
    readonly instanceId: string,
    private readonly log: Logger,
    deps: { processEnv: NodeJS.ProcessEnv; audit: AuditLog | null; workspaces: WorkspacePolicy },
  ) {
    this.audit = deps.audit;
    this.workspaces = deps.workspaces;
    this.runtimeVars = runtimeEnv(deps.processEnv);
    this.runtimeSecrets = secretValues(Object.fromEntries(this.runtimeVars), new Set());
    for (const [name, b] of backends) this.baseEnvs.set(name, b.baseEnv(this.runtimeVars));
    this.registry = new CommandRegistry(config);
    this.housekeeping = setInterval(() => this.expireSessions(), HOUSEKEEPING_MS);
    this.housekeeping.unref();
  }

  get defaultRuntime(): TierName {
    return this.config.runtime;
  }

  // ---- sessions -------------------------------------------------------------

  async createSession(params: SessionCreateParams, ephemeral = false): Promise<Session> {
    this.refuseWhenDraining();
    this.refuseUnderPressure();
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
      const why = this.health.get(tier)?.detail ?? `the '${tier}' tier is not configured in this daemon (start it with --tiers ${[...this.config.tiers, tier].join(',')})`;
      throw new TrlError('RUNTIME_UNAVAILABLE', `runtime '${tier}' is unavailable: ${why}; use another runtime or fix the tier (trl info shows each tier's health, trl doctor what it needs)`, { runtime: tier });
    }
    if (params.network === false && !backend.isolated) {
      throw invalidParam('network', `the ${tier} tier cannot cut the network; use an isolated runtime (sandbox or docker) for network: false`);
    }
    if (params.image !== undefined && !backend.images) throw invalidParam('image', `image applies only to tiers that run images (not ${tier})`);
    if (params.name !== undefined && [...this.sessions.values()].some((s) => s.name === params.name)) {
      throw invalidParam('name', `a live session is already named '${params.name}'; pick another name or destroy that session`);
    }
    const shell = params.shell ?? backend.defaultShell ?? this.config.default_shell;
    // Paths inside a container or sandbox are checked there, by the shell.
    if (backend.hostPaths) requireExecutable(shell);
    const { cwd, workspace } = this.placeSession(backend, params);
    const network = backend.isolated ? (params.network ?? false) : true;
    const limits = sessionLimits(params.limits ?? {}, this.config);

    const baseEnv = this.baseEnvs.get(tier)!;
    const env = new Map(baseEnv);
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
      isolated: backend.isolated,
      ephemeral,
      secretKeys: new Set(params.secret_keys ?? []),
      redactOutput: params.redact_output ?? true,
      network,
      baseEnv,
    });
    this.sessions.set(session.id, session);
    try {
      session.backend = await backend.createSession({ sessionTag: session.tag, limits, workspace, network, image: params.image });
    } catch (err) {
      this.sessions.delete(session.id);
      if (err instanceof WorkspaceAccessError) throw invalidParam('workspace', err.message);
      throw new TrlError('RUNTIME_UNAVAILABLE', `could not start a '${tier}' session: ${(err as Error).message}`, { runtime: tier });
    }
    if (session.destroying || this.draining) {
      // Destroyed (shutdown, session.destroy) while its sandbox or container was starting: that
      // destroy found nothing to kill, so this one must, or the sandbox/container outlives it.
      await session.backend.destroy(0, []).catch(() => undefined);
      this.sessions.delete(session.id);
      this.refuseWhenDraining();
      throw this.sessionNotFound(session.id);
    }
    session.state = 'idle';
    const envKeys = Object.keys(params.env ?? {});
    this.log.info({ session_id: session.id, runtime: tier, network, ...session.backend.describe(), env_keys: envKeys, ephemeral }, 'session created');
    this.audit?.write({ method: 'session.create', session_id: session.id, tier, env_keys: envKeys, ephemeral });
    return session;
  }

  /** Refuse new sessions while the daemon itself is short of file descriptors or memory. */
  private refuseUnderPressure(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.config.max_daemon_rss_bytes) {
      throw new TrlError('RESOURCE_PRESSURE', `the daemon uses ${Math.round(rss / 1048576)} MiB, over max_daemon_rss_bytes; destroy idle sessions or finished commands' consumers, or raise --max-daemon-rss-bytes`);
    }
    const fds = openFdCount();
    const limit = fdLimit();
    if (limit !== null && fds > limit * 0.9) {
      throw new TrlError('RESOURCE_PRESSURE', `the daemon has ${fds} of its ${limit} file descriptors open; destroy sessions or raise its open-files limit (ulimit -n)`);
    }
  }

  /**
   * The session's starting directory and workspace. The host tier isolates
   * nothing: any existing directory will do. An isolated tier makes its
   * workspace writable from inside, so the workspace must pass the operator's
   * policy; it is used with every symlink resolved (what is checked is what
   * is mounted), and a session given a workspace starts in it.
   */
  private placeSession(backend: Backend, params: SessionCreateParams): { cwd: string; workspace: string } {
    const defaultCwd = this.config.default_working_dir ?? process.cwd();
    if (!backend.isolated) {
      const cwd = params.working_dir ?? params.workspace ?? defaultCwd;
      requireDirectory('working_dir', cwd);
      const workspace = params.workspace ?? cwd;
      if (params.workspace !== undefined) requireDirectory('workspace', workspace);
      return { cwd, workspace };
    }
    // A working_dir that is not a host directory is a path only the container has (/app of an image).
    const hostDir = params.working_dir !== undefined && isDirectory(params.working_dir);
    if (params.working_dir !== undefined && backend.hostPaths && !hostDir) requireDirectory('working_dir', params.working_dir);
    const given = params.workspace ?? (hostDir ? params.working_dir! : defaultCwd);
    const workspace = this.workspaces.check(params.workspace !== undefined ? 'workspace' : hostDir ? 'working_dir' : 'workspace', given);
    if (params.working_dir === undefined) return { cwd: workspace, workspace };
    // The given path may reach the workspace through a symlink only the host has: start at its real path.
    const cwd = hostDir ? realpathSync(params.working_dir) : params.working_dir;
    return { cwd, workspace };
  }

  getSession(id: string): Session {
    const s = this.sessions.get(id);
    if (!s || s.state === 'terminated') {
      throw new TrlError('SESSION_NOT_FOUND', `no session '${id}'; list live sessions with session.list or create one with session.create`, { session_id: id });
    }
    return s;
  }

  listSessions(): SessionInfo[] {
    return [...this.sessions.values()].filter((s) => !s.ephemeral).map((s) => s.info());
  }

  async sessionInfo(s: Session, withUsage = false): Promise<SessionInfo> {
    return s.info(withUsage && s.backend ? await s.backend.usage() : null);
  }

  updateSession(params: {
    session_id: string;
    env?: Record<string, string>;
    unset_env?: string[];
    working_dir?: string;
    name?: string;
    timeout_s?: number;
    secret_keys?: string[];
    redact_output?: boolean;
  }): SessionInfo {
    const s = this.getSession(params.session_id);
    // Paths of an isolated tier are the sandbox's or container's own (its /tmp): its shell checks them.
    if (params.working_dir !== undefined && !s.isolated) {
      const secrets = secretValues({ ...s.envRecord(), ...(params.env ?? {}) }, new Set([...s.secretKeys, ...(params.secret_keys ?? [])]));
      requireDirectory('working_dir', params.working_dir, (p) => redactText(p, secrets));
    }
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
    for (const k of params.secret_keys ?? []) s.secretKeys.add(k);
    if (params.redact_output !== undefined) s.redactOutput = params.redact_output;
    s.touch();
    this.log.info({ session_id: s.id, env_keys: Object.keys(params.env ?? {}), unset_env: params.unset_env ?? [] }, 'session updated');
    this.audit?.write({ method: 'session.update', session_id: s.id, env_keys: Object.keys(params.env ?? {}), unset_env: params.unset_env, working_dir: params.working_dir });
    return s.info();
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
        this.audit?.write({ method: 'session.destroy', session_id: id, tier: s.runtime, killed_processes: killed, reason });
        return killed;
      })();
    }
    const killed = await s.destroying;
    return { session_id: id, state: 'terminated', killed_processes: killed };
  }

  /**
   * A destroy nobody waits for (ephemeral sessions, expiry). It must never
   * reject unhandled: the session may already be gone (a shutdown took it),
   * and a backend may fail; either is logged, the daemon carries on.
   */
  private destroyInBackground(id: string, reason: string): void {
    if (!this.sessions.has(id)) return;
    this.destroySession(id, false, reason).catch((err: unknown) => {
      if (err instanceof TrlError && err.code === 'SESSION_NOT_FOUND') return;
      this.log.error({ session_id: id, reason, err: this.redactError(err) }, 'destroying a session failed');
    });
  }

  /**
   * Every secret value this daemon knows that `params` may have brought or
   * touched: the runtime's, the named session's (all sessions' without one),
   * and the request's own variables. Error messages and details pass through
   * it before they leave (a NUL-byte spawn error echoed the command; a bad
   * working_dir echoed a path).
   */
  secretsFor(params?: unknown): string[] {
    const p = (typeof params === 'object' && params !== null ? params : {}) as { session_id?: unknown; env?: unknown; secret_keys?: unknown };
    const values = new Set(this.runtimeSecrets);
    const named = typeof p.session_id === 'string' ? this.sessions.get(p.session_id) : undefined;
    for (const s of named ? [named] : this.sessions.values()) for (const v of secretValues(s.envRecord(), s.secretKeys)) values.add(v);
    if (typeof p.env === 'object' && p.env !== null) {
      const keys = new Set(Array.isArray(p.secret_keys) ? p.secret_keys.filter((k): k is string => typeof k === 'string') : []);
      if (named) for (const k of named.secretKeys) keys.add(k);
      const env = Object.fromEntries(Object.entries(p.env as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
      for (const v of secretValues(env, keys)) values.add(v);
    }
    return [...values];
  }

  /** An error as it may be logged: name and message with every known secret replaced. */
  redactError(err: unknown): { name: string; message: string } {
    const e = err instanceof Error ? err : new Error(String(err));
    return { name: e.name, message: redactText(e.message, this.secretsFor()) };
  }

  private sessionNotFound(id: string): TrlError {
    return new TrlError('SESSION_NOT_FOUND', `no session '${id}'; list live sessions with session.list`, { session_id: id });
  }

  private get graceMs(): number {
    return this.config.kill_grace_s * 1000;
  }

  // ---- commands -------------------------------------------------------------

  /** exec.run: the buffered result, or with yield_after_s what it printed so far. */
  async run(params: ExecRunParams): Promise<ExecResult> {
    const { yield_after_s: yieldAfter, ...rest } = params;
    const { session, cmd } = await this.launch(rest, false, 'exec.run');
    const encoding = params.encoding ?? 'utf8';
    if (yieldAfter !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const yielded = await Promise.race([
        cmd.done.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), yieldAfter * 1000))),
      ]);
      clearTimeout(timer);
      if (yielded && cmd.running) {
        // It goes on in the background: the foreground slot is free again and its state will not persist.
        cmd.background = true;
        if (session.foreground === cmd) session.foreground = null;
        return execResult(cmd, session.cwd, encoding);
      }
    }
    await cmd.done;
    const result = execResult(cmd, session.cwd, encoding);
    if (params.check && result.exit_code !== 0) {
      throw new TrlError('COMMAND_FAILED', `the command exited with ${result.exit_code}${result.signal ? ` (${result.signal})` : ''}; see details for its output`, { result });
    }
    return result;
  }

  /** exec.stream: start in the foreground slot; the caller streams its output. */
  async streamCommand(params: ExecStreamParams): Promise<Command> {
    return (await this.launch(params, false, 'exec.stream')).cmd;
  }

  /** exec.start: a background command beside the foreground slot. */
  async start(params: ExecStreamParams): Promise<{ command_id: string; pid: number }> {
    const { cmd } = await this.launch(params, true, 'exec.start');
    return { command_id: cmd.id, pid: cmd.pid };
  }

  /**
   * Validate, spawn and register a command. Its completion (slot release,
   * state persistence, retention, ephemeral cleanup) is handled here whoever
   * waits for it.
   */
  private async launch(params: ExecStreamParams, background: boolean, method: string): Promise<{ session: Session; cmd: Command }> {
    this.refuseWhenDraining();
    const session = params.session_id !== undefined ? this.getSession(params.session_id) : await this.createSession({}, true);
    try {
      if (!background && session.foreground) {
        throw new TrlError(
          'SESSION_BUSY',
          `session '${session.id}' is already running command '${session.foreground.id}'; wait for it, cancel it, use exec.start for background work, or use another session`,
          { session_id: session.id, command_id: session.foreground.id },
        );
      }
      if (this.runningCommands() >= this.config.max_running_commands) {
        throw new TrlError('RESOURCE_PRESSURE', `${this.config.max_running_commands} commands are running, the daemon's maximum (max_running_commands); wait for some to end or cancel them`, {
          max_running_commands: this.config.max_running_commands,
        });
      }
      if (session.running.size >= this.config.max_session_running) {
        throw new TrlError('RESOURCE_PRESSURE', `session '${session.id}' runs ${session.running.size} commands, its maximum (max_session_running); wait for some to end or cancel them`, {
          max_session_running: this.config.max_session_running,
        });
      }
      if (session.commandCount >= this.config.session_max_commands) {
        throw new TrlError(
          'SESSION_LIMIT_EXCEEDED',
          `session '${session.id}' has run ${session.commandCount} commands, its maximum (session_max_commands); create a new session`,
          { max_commands: this.config.session_max_commands },
        );
      }
      const cmd = new Command(commandSpec(session, params, this.config, background), session.backend!);
      if (!background) session.foreground = cmd;
      session.commandCount++;
      session.touch();
      try {
        await cmd.start();
      } catch (err) {
        if (session.foreground === cmd) session.foreground = null;
        if (err instanceof SpawnError) {
          throw new TrlError('SPAWN_FAILED', `could not start the command: ${err.message}; check the shell, program and working_dir`, { errno: err.code });
        }
        throw err;
      }
      this.totalCommands++;
      session.running.add(cmd);
      this.registry.add(session, cmd);
      session.state = 'running';
      this.log.debug({ session_id: session.id, command_id: cmd.id, env_keys: Object.keys(params.env ?? {}), pid: cmd.pid, background }, 'command started');
      this.audit?.write({
        method,
        session_id: session.id,
        command_id: cmd.id,
        command: redactText(cmd.spec.text, cmd.spec.secrets),
        tier: session.runtime,
        env_keys: Object.keys(params.env ?? {}),
        pty: cmd.pty !== null,
      });
      void cmd.done.then(() => this.finished(session, cmd, params));
      return { session, cmd };
    } catch (err) {
      if (session.ephemeral) this.destroyInBackground(session.id, 'ephemeral');
      throw err;
    }
  }

  private finished(session: Session, cmd: Command, params: ExecStreamParams): void {
    session.running.delete(cmd);
    if (session.foreground === cmd) session.foreground = null;
    if (session.running.size === 0 && session.state === 'running') session.state = 'idle';
    session.touch();
    if (!cmd.background) this.persistState(session, cmd, params.env ?? {}, params.working_dir !== undefined);
    this.log.debug(
      { session_id: session.id, command_id: cmd.id, exit_code: exitCodeOf(cmd), signal: cmd.exit?.signal ?? null, duration_ms: cmd.durationMs, kill_reason: cmd.killReason },
      'command finished',
    );
    this.audit?.write({
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
    this.registry.retain(session, cmd);
    // The result does not wait for the cleanup: background processes get SIGTERM now, SIGKILL after the grace.
    if (session.ephemeral) this.destroyInBackground(session.id, 'ephemeral');
  }

  /** The cwd a command's result reports: its session's, after the command. */
  commandWorkingDir(cmd: Command): string {
    return this.sessions.get(cmd.spec.sessionId)?.cwd ?? cmd.spec.cwd;
  }

  getCommand(id: string): Command {
    return this.registry.get(id);
  }

  /** One session's commands, or (no id) every retained command, oldest first. */
  listCommands(sessionId: string | undefined): CommandInfo[] {
    const cmds = sessionId === undefined ? this.registry.all() : [...this.getSession(sessionId).commands];
    return cmds.map(commandInfo);
  }

  commandInfo(id: string): CommandInfo {
    return commandInfo(this.getCommand(id));
  }

  /** The final result; COMMAND_TIMEOUT if `timeoutS` passes first. */
  async wait(id: string, timeoutS: number | undefined, encoding: Encoding): Promise<ExecResult> {
    const cmd = this.getCommand(id);
    if (cmd.running && timeoutS !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([cmd.done.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutS * 1000)))]);
      clearTimeout(timer);
      if (!ended) {
        throw new TrlError('COMMAND_TIMEOUT', `command '${id}' is still running after ${timeoutS} s; wait again, read its output with exec.output, or cancel it`, { command_id: id });
      }
    }
    await cmd.done;
    return execResult(cmd, this.commandWorkingDir(cmd), encoding);
  }

  /** exec.output: bytes from an offset, optionally waiting for them. */
  output(params: ReadOutputParams & { command_id: string }) {
    return readOutput(this.getCommand(params.command_id), params);
  }

  async input(params: { command_id: string; data?: string | undefined; encoding?: Encoding | undefined; eof?: boolean | undefined }) {
    const cmd = this.getCommand(params.command_id);
    if (!cmd.stdinOpen) {
      throw invalidParam(
        'command_id',
        cmd.running
          ? `command '${cmd.id}' has no open stdin; start it with stdin_open: true to write to it`
          : `command '${cmd.id}' has ended; its stdin is closed`,
      );
    }
    const data = params.data === undefined ? Buffer.alloc(0) : Buffer.from(params.data, params.encoding ?? 'utf8');
    if (data.length > this.config.max_stdin_bytes) {
      throw invalidParam('data', `${data.length} bytes is over the stdin limit of ${this.config.max_stdin_bytes} bytes per call (max_stdin_bytes); send it in pieces`);
    }
    if (data.length > 0) {
      try {
        await cmd.write(data);
      } catch (err) {
        throw invalidParam('command_id', `could not write to the stdin of command '${cmd.id}': ${(err as Error).message}`);
      }
    }
    if (params.eof) cmd.closeStdin();
    this.audit?.write({ method: 'exec.input', session_id: cmd.spec.sessionId, command_id: cmd.id, bytes: data.length, eof: params.eof ?? false });
    return { command_id: cmd.id, bytes_written: data.length, stdin_open: cmd.stdinOpen };
  }

  async signal(id: string, name: string) {
    const cmd = this.getCommand(id);
    const signal = (name.startsWith('SIG') ? name : `SIG${name}`) as NodeJS.Signals;
    if (signalNumber(signal) === undefined) throw invalidParam('signal', `unknown signal '${name}'; use a name such as SIGINT, SIGTERM, SIGKILL, SIGHUP, SIGUSR1`);
    const delivered = await cmd.signal(signal);
    this.audit?.write({ method: 'exec.signal', session_id: cmd.spec.sessionId, command_id: cmd.id, signal, delivered });
    return { command_id: cmd.id, signal, delivered };
  }

  /** SIGTERM, grace, SIGKILL to the tree(s); resolves once they are complete, so the session is usable again. */
  async cancel(params: { command_id?: string | undefined; session_id?: string | undefined }) {
    const targets = params.command_id !== undefined ? [this.getCommand(params.command_id)] : [...this.getSession(params.session_id!).running];
    const running = targets.filter((c) => c.running);
    for (const c of running) this.audit?.write({ method: 'exec.cancel', session_id: c.spec.sessionId, command_id: c.id });
    await Promise.all(running.map(async (c) => {
      await c.kill('cancel', this.graceMs);
      await c.done;
    }));
    return { cancelled: running.map((c) => c.id) };
  }

  resize(id: string, cols: number, rows: number) {
    const cmd = this.getCommand(id);
    if (!cmd.pty) throw invalidParam('command_id', `command '${id}' does not run under a pseudo-terminal; only pty commands can be resized`);
    if (cmd.running) cmd.resize(cols, rows);
    return { command_id: id, cols, rows };
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

  private runningCommands(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.running.size;
    return n;
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
    const fds = openFdCount();
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
    const tiers: z.infer<typeof InfoResult>['tiers'] = {};
    for (const name of ['host', 'sandbox', 'docker'] as const) {
      const health = this.health.get(name) ?? { available: false, isolated: name !== 'host', detail: `not configured in this daemon: add it to --tiers (now ${this.config.tiers.join(',')})` };
      tiers[name] = { ...health, enforcement: this.backends.get(name)?.enforcement() ?? null };
    }
    return {
      version: PROTOCOL_VERSION,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      pid: process.pid,
      instance_id: this.instanceId,
      default_runtime: this.defaultRuntime,
      tiers,
      enforcement: this.backends.get(this.defaultRuntime)!.enforcement(),
      limits: limitsInForce(this.config),
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
    const idle = this.config.max_idle_s * 1000;
    const ttl = this.config.session_ttl_s * 1000;
    for (const s of this.sessions.values()) {
      if (s.destroying || s.ephemeral) continue;
      const idleFor = now - s.lastActivity.getTime();
      if (ttl > 0 && now - s.createdAt.getTime() >= ttl) this.destroyInBackground(s.id, 'ttl');
      else if (idle > 0 && s.running.size === 0 && idleFor >= idle) this.destroyInBackground(s.id, 'idle');
    }
  }

  /** Stop taking work, kill every command and session. */
  async shutdown(): Promise<void> {
    this.draining = true;
    clearInterval(this.housekeeping);
    await Promise.all([...this.sessions.keys()].map((id) => this.destroySession(id, false, 'shutdown').catch(() => undefined)));
  }
}

