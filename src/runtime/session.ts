import { randomBytes, randomUUID } from 'node:crypto';
import type { SessionLimits, TierSession } from '../tiers/tier.js';
import type { TierName } from '../protocol/common.js';
import type { SessionInfo } from '../protocol/session.js';
import type { Command } from './command.js';
import { TrlError } from '../protocol/errors.js';
import { persistEnv, sessionEnvKeys } from './env.js';
import { parseCapturedState } from './state-capture.js';

export interface SessionSpec {
  name: string | null;
  shell: string;
  cwd: string;
  workspace: string;
  env: Map<string, string>;
  timeoutS: number;
  limits: SessionLimits & { max_output_bytes: number };
  runtime: TierName;
  /** The tier is a boundary (sandbox, docker): its paths are its own. */
  isolated: boolean;
  ephemeral: boolean;
  secretKeys: Set<string>;
  redactOutput: boolean;
  network: boolean;
  /** The environment this session's tier starts from (env_keys lists what differs). */
  baseEnv: ReadonlyMap<string, string>;
}

/**
 * A named execution context: cwd, environment, process tree, limits, tier.
 * Its cwd and env change only between commands (state persistence).
 */
export class Session {
  readonly id = randomUUID();
  /** Short random tag naming the session in cgroup paths and process tags. */
  readonly tag = randomBytes(6).toString('hex');
  readonly createdAt = new Date();
  lastActivity = new Date();
  name: string | null;
  readonly shell: string;
  cwd: string;
  readonly workspace: string;
  private envMap: Map<string, string>;
  private envObj: Record<string, string> | null = null;
  /** The raw state the last command's shell reported; an identical report changes nothing. */
  lastStateRaw: Buffer | null = null;
  timeoutS: number;
  readonly limits: SessionSpec['limits'];
  readonly runtime: TierName;
  readonly isolated: boolean;
  readonly network: boolean;
  readonly baseEnv: ReadonlyMap<string, string>;
  readonly ephemeral: boolean;
  /** Names marked secret explicitly (names that look secret are secret anyway). */
  readonly secretKeys: Set<string>;
  redactOutput: boolean;
  state: 'creating' | 'idle' | 'running' | 'terminated' = 'creating';
  commandCount = 0;
  /** The exec.run/exec.stream command holding the foreground slot. */
  foreground: Command | null = null;
  readonly running = new Set<Command>();
  /** Spawns under way (begun, not yet running): a cancel of the whole session waits for them, so none escapes it. */
  readonly starting = new Set<Promise<unknown>>();

  /** Commands that hold a place: running, or starting. The limits count both, or starts pipelined on one connection pass them together. */
  get busy(): number {
    return this.running.size + this.starting.size;
  }
  /** Running commands and finished ones still retained, oldest first. */
  readonly commands = new Set<Command>();
  /** The tier's side of the session (its sandbox, container or cgroups); null while it starts. */
  tierSession: TierSession | null = null;
  destroying: Promise<number> | null = null;

  constructor(spec: SessionSpec) {
    this.name = spec.name;
    this.shell = spec.shell;
    this.cwd = spec.cwd;
    this.workspace = spec.workspace;
    this.envMap = spec.env;
    this.timeoutS = spec.timeoutS;
    this.limits = spec.limits;
    this.runtime = spec.runtime;
    this.isolated = spec.isolated;
    this.network = spec.network;
    this.baseEnv = spec.baseEnv;
    this.ephemeral = spec.ephemeral;
    this.secretKeys = spec.secretKeys;
    this.redactOutput = spec.redactOutput;
  }

  get env(): ReadonlyMap<string, string> {
    return this.envMap;
  }

  set env(next: Map<string, string>) {
    this.envMap = next;
    this.envObj = null;
  }

  /** Changes made outside a command (session.update) also forget the last state report. */
  setVar(name: string, value: string): void {
    this.envMap.set(name, value);
    this.envObj = null;
    this.lastStateRaw = null;
  }

  unsetVar(name: string): void {
    this.envMap.delete(name);
    this.envObj = null;
    this.lastStateRaw = null;
  }

  setCwd(dir: string): void {
    this.cwd = dir;
    this.lastStateRaw = null;
  }

  /** The environment as the object spawn wants, rebuilt only after a change. */
  envRecord(): Readonly<Record<string, string>> {
    return (this.envObj ??= Object.fromEntries(this.envMap));
  }

  touch(): void {
    this.lastActivity = new Date();
  }

  // ---- a command's life in the session: the foreground slot, the running set, the state

  /** A command takes its place: the foreground slot, unless it runs in the background. SESSION_BUSY when the slot is taken. */
  begin(cmd: Command): void {
    if (!cmd.background && this.foreground) {
      throw new TrlError(
        'SESSION_BUSY',
        `session '${this.id}' is already running command '${this.foreground.id}'; wait for it, cancel it, use exec.start for background work, or use another session`,
        { session_id: this.id, command_id: this.foreground.id },
      );
    }
    if (!cmd.background) this.foreground = cmd;
    this.commandCount++;
    this.touch();
  }

  /** It could not start: its slot is free again. */
  abandon(cmd: Command): void {
    if (this.foreground === cmd) this.foreground = null;
  }

  /** It runs. */
  started(cmd: Command): void {
    this.running.add(cmd);
    this.state = 'running';
  }

  /** exec.run's yield: it goes on in the background; the slot is free again and its state will not persist. */
  yieldCommand(cmd: Command): void {
    cmd.background = true;
    if (this.foreground === cmd) this.foreground = null;
  }

  /** It ended (its state, if any, is taken over separately: persistState). */
  finish(cmd: Command): void {
    this.running.delete(cmd);
    if (this.foreground === cmd) this.foreground = null;
    if (this.running.size === 0 && this.state === 'running') this.state = 'idle';
    this.touch();
  }

  /**
   * Take over the cwd and exported env a foreground command's shell
   * reported. Most commands change nothing, so a report identical to the last
   * plain one (no command env, no working_dir override, no session.update
   * since) is not parsed again.
   */
  persistState(raw: Buffer | null, commandEnv: Record<string, string>, cwdOverridden: boolean): void {
    if (!raw || (this.lastStateRaw && raw.equals(this.lastStateRaw))) return;
    const captured = parseCapturedState(raw);
    if (!captured) return;
    if (!cwdOverridden) this.cwd = captured.cwd;
    this.env = persistEnv(this.env, captured.env, commandEnv);
    this.lastStateRaw = Object.keys(commandEnv).length === 0 && !cwdOverridden ? raw : null;
  }

  info(usage: SessionInfo['usage'] = null): SessionInfo {
    const limits: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.limits)) if (typeof v === 'number') limits[k] = v;
    return {
      session_id: this.id,
      name: this.name,
      shell: this.shell,
      runtime: this.runtime,
      state: this.state,
      working_dir: this.cwd,
      workspace: this.workspace,
      env_keys: sessionEnvKeys(this.env, this.baseEnv),
      created_at: this.createdAt.toISOString(),
      last_activity: this.lastActivity.toISOString(),
      command_count: this.commandCount,
      running: [...this.running].map((c) => c.id),
      timeout_s: this.timeoutS,
      limits,
      secret_keys: [...this.secretKeys].sort(),
      redact_output: this.redactOutput,
      isolation: { isolated: this.isolated, network: this.network, detail: this.tierSession?.describe() ?? {} },
      usage,
    };
  }
}
