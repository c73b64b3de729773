import { randomBytes, randomUUID } from 'node:crypto';
import type { BackendSession, SessionLimits, TierName } from '../tiers/tier.js';
import type { SessionInfo } from '../protocol/session.js';
import type { Command } from './command.js';
import { sessionEnvKeys } from './env.js';

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
  /** Running commands and finished ones still retained, oldest first. */
  readonly commands = new Set<Command>();
  backend: BackendSession | null = null;
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
      isolation: { isolated: this.isolated, network: this.network, detail: this.backend?.describe() ?? {} },
      usage,
    };
  }
}
