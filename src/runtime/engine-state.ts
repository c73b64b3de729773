import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import type { TierName } from '../protocol/common.js';
import { TrlError } from '../protocol/errors.js';
import type { Tier, TierHealth } from '../tiers/tier.js';
import type { AuditLog } from './audit-log.js';
import type { Command } from './command.js';
import { CommandRegistry } from './command-registry.js';
import { runtimeEnv } from './env.js';
import { secretValues } from './secrets.js';
import type { Session } from './session.js';
import type { WorkspacePolicy } from './workspace-policy.js';

/** What the engine is built from (the server's wiring). */
export interface EngineDeps {
  config: Config;
  tiers: ReadonlyMap<TierName, Tier>;
  /** Every tier's health (the unconfigured ones too, saying so). */
  health: ReadonlyMap<TierName, TierHealth>;
  instanceId: string;
  log: Logger;
  /** The daemon's environment (and .env) the runtime-level variables come from. */
  processEnv: NodeJS.ProcessEnv;
  audit: AuditLog | null;
  workspaces: WorkspacePolicy;
}

/**
 * What every verb of the engine works on: the configuration, the tiers, the
 * live sessions, the commands still readable, and the daemon's counters.
 * Sessions and commands change through their own methods; this holds them
 * and answers the lookups every verb needs.
 */
export class EngineState {
  readonly startedAt = Date.now();
  readonly config: Config;
  readonly tiers: ReadonlyMap<TierName, Tier>;
  readonly health: ReadonlyMap<TierName, TierHealth>;
  readonly instanceId: string;
  readonly log: Logger;
  readonly audit: AuditLog | null;
  readonly workspaces: WorkspacePolicy;
  readonly sessions = new Map<string, Session>();
  readonly registry: CommandRegistry;
  /** Each tier's starting environment for its sessions (Tier.baseEnv of the runtime-level variables). */
  readonly baseEnvs = new Map<TierName, ReadonlyMap<string, string>>();
  /** Values of the runtime-level variables that look secret (TRL_* never reach here: the auth token is not among them). */
  readonly runtimeSecrets: string[];
  totalCommands = 0;
  draining = false;

  constructor(deps: EngineDeps) {
    this.config = deps.config;
    this.tiers = deps.tiers;
    this.health = deps.health;
    this.instanceId = deps.instanceId;
    this.log = deps.log;
    this.audit = deps.audit;
    this.workspaces = deps.workspaces;
    const vars = runtimeEnv(deps.processEnv);
    this.runtimeSecrets = secretValues(Object.fromEntries(vars), new Set());
    for (const [name, t] of deps.tiers) this.baseEnvs.set(name, t.baseEnv(vars));
    this.registry = new CommandRegistry(deps.config);
  }

  get defaultTier(): TierName {
    return this.config.runtime;
  }

  get graceMs(): number {
    return this.config.kill_grace_s * 1000;
  }

  getSession(id: string): Session {
    const s = this.sessions.get(id);
    if (!s || s.state === 'terminated') {
      throw new TrlError('SESSION_NOT_FOUND', `no session '${id}'; list live sessions with session.list or create one with session.create`, { session_id: id });
    }
    return s;
  }

  sessionNotFound(id: string): TrlError {
    return new TrlError('SESSION_NOT_FOUND', `no session '${id}'; list live sessions with session.list`, { session_id: id });
  }

  getCommand(id: string): Command {
    return this.registry.get(id);
  }

  /** The cwd a command's result reports: its session's, after the command. */
  commandWorkingDir(cmd: Command): string {
    return this.sessions.get(cmd.spec.sessionId)?.cwd ?? cmd.spec.cwd;
  }

  runningCommands(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.busy;
    return n;
  }

  refuseWhenDraining(): void {
    if (this.draining) throw new TrlError('SHUTTING_DOWN', 'the daemon is shutting down and accepts no new work; retry against a running daemon');
  }
}
