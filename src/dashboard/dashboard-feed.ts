import type { SessionInfo } from '../protocol/session.js';
import type { Engine } from '../runtime/engine.js';
import type { Connection } from '../server/connection.js';
import type { AuditTail } from './audit-tail.js';
import { buildSnapshot } from './snapshot.js';

/** Changes closer together than this make one snapshot. */
const COALESCE_MS = 100;
/** How often sessions' usage and the daemon's health are sampled while a page is open (server-side: the page never polls). */
const SAMPLE_MS = 2000;
/** Calls that change nothing the page shows: they do not cause a snapshot. */
const READS = /^(system\.|session\.(list|info)$|exec\.(list|info|output|wait)$|fs\.(read|list|stat|search|grep)$)/;

/**
 * Pushes the page's picture of the daemon — sessions, commands, health, the
 * audit log's tail — to every open dashboard as `{"event":"snapshot"}`
 * messages on its WebSocket: at once when a request changes something (on
 * any transport), a command ends or the audit log grows, and with fresh
 * usage every few seconds. A page that does not read is skipped and gets
 * the latest picture once its socket drains; nothing queues up.
 */
export class DashboardFeed {
  private readonly conns = new Set<Connection>();
  private readonly usage = new Map<string, SessionInfo['usage']>();
  private readonly watched = new Set<string>();
  private latest = '';
  private coalesce: NodeJS.Timeout | null = null;
  private sampler: NodeJS.Timeout | null = null;
  private readonly onAnswered = (method: string): void => {
    if (!READS.test(method)) this.changed();
  };

  constructor(
    private readonly rt: Engine,
    private readonly audit: AuditTail,
    private readonly answered: Set<(method: string) => void>,
  ) {}

  add(conn: Connection): void {
    this.conns.add(conn);
    conn.onClose(() => this.remove(conn));
    if (this.conns.size === 1) {
      this.answered.add(this.onAnswered);
      this.audit.start(() => this.changed());
      this.sampler = setInterval(() => void this.sample(), SAMPLE_MS);
      this.sampler.unref();
      void this.sample();
    }
    this.latest = this.build();
    this.sendTo(conn);
  }

  private remove(conn: Connection): void {
    if (!this.conns.delete(conn) || this.conns.size > 0) return;
    this.answered.delete(this.onAnswered);
    this.audit.stop();
    if (this.sampler) clearInterval(this.sampler);
    if (this.coalesce) clearTimeout(this.coalesce);
    this.sampler = this.coalesce = null;
  }

  /** Something changed: one snapshot soon, for every page. */
  changed(): void {
    if (this.coalesce || this.conns.size === 0) return;
    this.coalesce = setTimeout(() => {
      this.coalesce = null;
      this.broadcast();
    }, COALESCE_MS);
  }

  private broadcast(): void {
    const next = this.build();
    if (next === this.latest) return;
    this.latest = next;
    for (const conn of this.conns) this.sendTo(conn);
  }

  private readonly waiting = new WeakSet<Connection>();

  private sendTo(conn: Connection): void {
    if (conn.closed) return;
    if (conn.writable()) return conn.sendLine(this.latest);
    if (this.waiting.has(conn)) return;
    this.waiting.add(conn);
    conn.onDrain(() => {
      this.waiting.delete(conn);
      this.sendTo(conn);
    });
  }

  private build(): string {
    const snapshot = buildSnapshot(this.rt, this.usage);
    // A command's end is a change too: watch each running one once.
    for (const c of snapshot.commands) {
      if (c.state !== 'running' || this.watched.has(c.command_id)) continue;
      this.watched.add(c.command_id);
      try {
        const ended = () => {
          this.watched.delete(c.command_id);
          this.changed();
        };
        this.rt.getCommand(c.command_id).done.then(ended, ended);
      } catch {
        this.watched.delete(c.command_id);
      }
    }
    return JSON.stringify({ event: 'snapshot', data: { ...snapshot, audit: this.audit.entries(), audit_enabled: this.audit.path !== null } }) + '\n';
  }

  /** Each session's usage (memory, processes, CPU) as session.info reports it. */
  private async sample(): Promise<void> {
    const ids = this.rt.listSessions().map((s) => s.session_id);
    for (const id of this.usage.keys()) if (!ids.includes(id)) this.usage.delete(id);
    for (const id of ids) {
      try {
        this.usage.set(id, (await this.rt.sessionInfo(this.rt.getSession(id), true)).usage);
      } catch {
        this.usage.delete(id);
      }
    }
    this.broadcast();
  }
}
