import type { AuditLog } from '../runtime/audit-log.js';
import type { ViewerSession } from './viewer-sessions.js';

/** One open dashboard page. */
export interface Viewer {
  session: ViewerSession;
  remote: string;
  since: number;
}

/**
 * The open dashboard pages, at most `max` (`--dashboard-max-viewers`). Each
 * connection and disconnection goes to the audit log, with the viewer's id,
 * grant, peer address and origin.
 */
export class ViewerRegistry {
  private readonly open = new Set<Viewer>();

  constructor(
    readonly max: number,
    private readonly audit: AuditLog | null,
  ) {}

  get size(): number {
    return this.open.size;
  }

  get full(): boolean {
    return this.open.size >= this.max;
  }

  add(session: ViewerSession, remote: string): Viewer {
    const v: Viewer = { session, remote, since: Date.now() };
    this.open.add(v);
    this.audit?.write({ method: 'dashboard.connect', viewer: session.id, grant: session.grant, remote, origin: session.origin, viewers: this.open.size });
    return v;
  }

  remove(v: Viewer): void {
    if (!this.open.delete(v)) return;
    this.audit?.write({ method: 'dashboard.disconnect', viewer: v.session.id, remote: v.remote, duration_ms: Date.now() - v.since, viewers: this.open.size });
  }

  /**
   * The daemon is stopping: every open page's disconnection is recorded now,
   * while the audit log is still open. Their connections close later (the
   * WebSocket's close can come after the audit log is closed), and find
   * nothing left to record.
   */
  removeAll(): void {
    for (const v of [...this.open]) this.remove(v);
  }
}
