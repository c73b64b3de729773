import { randomBytes } from 'node:crypto';
import { TrlClientError } from '../client/client-error.js';
import type { TrlCaller } from './caller.js';
import { createParams, type SessionSettings } from './session-settings.js';

/** The session a call names none of. */
export const DEFAULT_SESSION = 'main';
/** Commands remembered per scope (their ids and read positions); the oldest is forgotten first. */
const MAX_TRACKED_COMMANDS = 1000;

/** A command a tool started: the model may read it, type into it and stop it. */
export interface TrackedCommand {
  commandId: string;
  /** The model's name of its session. */
  session: string;
  sessionId: string;
  pty: boolean;
  /** Where the next read of each stream starts when the model gives no offset. */
  read: { stdout: number; stderr: number };
}

/**
 * The trl sessions and commands of one MCP client: a stdio connection, an
 * HTTP session of the 2025 protocol, or (for the stateless 2026 protocol over
 * HTTP, where no connection exists) everything served by one endpoint. The
 * model names sessions (`main`, `build`…); trl calls them `mcp-<scope>-<name>`.
 * A tool can only reach the sessions and commands of its own scope, so a model
 * never lands in a session some operator created with other settings.
 */
export class McpScope {
  private readonly sessions = new Map<string, string>();
  private readonly creating = new Map<string, Promise<string>>();
  private readonly commands = new Map<string, TrackedCommand>();
  private closing = false;

  constructor(
    readonly caller: TrlCaller,
    readonly settings: SessionSettings,
    /** Part of every trl session name of the scope. */
    readonly id: string,
    /** Its sessions are destroyed when the client goes (destroyAll). */
    readonly ephemeral: boolean,
  ) {}

  /** A scope for one client connection, with a fresh random id. */
  static forConnection(caller: TrlCaller, settings: SessionSettings): McpScope {
    return new McpScope(caller, settings, randomBytes(4).toString('hex'), true);
  }

  trlName(name: string): string {
    return `mcp-${this.id}-${name}`;
  }

  /** The session the model calls `name`, created (with the operator's settings) on first use. */
  async session(name: string): Promise<{ id: string; created: boolean }> {
    const known = this.sessions.get(name);
    if (known !== undefined) return { id: known, created: false };
    if (this.closing) throw new Error('this MCP connection is closing; no new session is created');
    let pending = this.creating.get(name);
    const mine = pending === undefined;
    if (!pending) {
      pending = this.create(name);
      this.creating.set(name, pending);
      const done = () => this.creating.delete(name);
      pending.then(done, done);
    }
    return { id: await pending, created: mine };
  }

  private async create(name: string): Promise<string> {
    const info = await this.caller.call('session.create', createParams(this.settings, this.trlName(name)));
    if (this.closing) {
      await this.destroy(info.session_id, true);
      throw new Error('this MCP connection is closing; no new session is created');
    }
    this.sessions.set(name, info.session_id);
    return info.session_id;
  }

  /** The session ended behind our back (idle timeout, TTL): the next use creates a new one. */
  forget(name: string): void {
    this.sessions.delete(name);
  }

  sessionNames(): Array<[name: string, sessionId: string]> {
    return [...this.sessions];
  }

  track(cmd: TrackedCommand): void {
    this.commands.delete(cmd.commandId);
    this.commands.set(cmd.commandId, cmd);
    while (this.commands.size > MAX_TRACKED_COMMANDS) {
      const oldest = this.commands.keys().next().value;
      if (oldest === undefined) break;
      this.commands.delete(oldest);
    }
  }

  command(commandId: string): TrackedCommand | undefined {
    return this.commands.get(commandId);
  }

  commandsOf(sessionId: string): TrackedCommand[] {
    return [...this.commands.values()].filter((c) => c.sessionId === sessionId);
  }

  /** Destroy one session of the scope (the `stop` tool); its commands are forgotten. */
  async destroySession(name: string, force: boolean): Promise<number> {
    const id = this.sessions.get(name);
    if (id === undefined) return 0;
    this.sessions.delete(name);
    for (const c of this.commandsOf(id)) this.commands.delete(c.commandId);
    return this.destroy(id, force);
  }

  /**
   * The client went away: every session of the scope is destroyed, its
   * processes killed at once (SIGKILL: no one waits for them to clean up, and
   * a client that closes stdio kills us after 2 s).
   */
  async destroyAll(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.creating.values()]);
    const ids = [...this.sessions.values()];
    this.sessions.clear();
    this.commands.clear();
    await Promise.all(ids.map((id) => this.destroy(id, true)));
  }

  private async destroy(sessionId: string, force: boolean): Promise<number> {
    try {
      return (await this.caller.call('session.destroy', { session_id: sessionId, force })).killed_processes;
    } catch (err) {
      // Gone already (idle timeout, a daemon shutdown): nothing left to kill.
      if (err instanceof TrlClientError && (err.code === 'SESSION_NOT_FOUND' || err.code === 'CONNECTION_CLOSED' || err.code === 'SHUTTING_DOWN')) return 0;
      throw err;
    }
  }
}
