import type { Response } from '../protocol/envelope.js';
import { isTrlError, TrlError } from '../protocol/errors.js';
import { ExecAttachParams } from '../protocol/exec.js';
import type { AuditLog } from '../runtime/audit-log.js';
import type { Engine } from '../runtime/engine.js';
import type { Connection } from '../server/connection.js';
import { StreamPump } from '../server/stream-pump.js';
import type { RequestHandler } from '../server/ws-transport.js';
import type { ViewerSession } from './viewer-sessions.js';

/** What every viewer may call: reading, never changing anything (exec.attach and dashboard.detach are answered here). */
const READ_METHODS: ReadonlySet<string> = new Set(['system.ping', 'system.stats', 'system.info', 'session.list', 'session.info', 'exec.list', 'exec.info', 'exec.output']);
/** What a viewer with the write grant may call besides: typing into, resizing, signalling and cancelling commands. */
const WRITE_METHODS: ReadonlySet<string> = new Set(['exec.input', 'exec.resize', 'exec.signal', 'exec.cancel']);

/**
 * The dispatcher of one dashboard viewer's WebSocket: the daemon's own, behind
 * a list of methods its grant allows, decided here on the server whatever the
 * page sends. Each write is written to the audit log with the viewer's id
 * (never the bytes typed: they may hold a secret).
 *
 * `exec.attach` is the API's (a StreamPump from the requested offset, so a
 * reload replays the buffer from its start) with one addition the page needs
 * when it switches commands: `dashboard.detach {stream_id}` ends a stream
 * early, with a final `exit` event `{detached: true}`.
 */
export class ViewerDispatcher implements RequestHandler {
  private readonly pumps = new Map<string, StreamPump>();

  constructor(
    private readonly rt: Engine,
    private readonly inner: RequestHandler,
    private readonly viewer: ViewerSession,
    private readonly audit: AuditLog | null,
  ) {}

  badJson(err: Error): Response {
    return this.inner.badJson(err);
  }

  async handle(msg: unknown, conn: Connection): ReturnType<RequestHandler['handle']> {
    const req = (typeof msg === 'object' && msg !== null ? msg : {}) as { id?: unknown; method?: unknown; params?: unknown };
    const id = typeof req.id === 'string' || typeof req.id === 'number' ? req.id : null;
    const method = typeof req.method === 'string' ? req.method : '';
    if (READ_METHODS.has(method)) return this.inner.handle(msg, conn);
    if (method === 'exec.attach') return this.attach(id, req.params, conn);
    if (method === 'dashboard.detach') return this.detach(id, req.params, conn);
    if (!WRITE_METHODS.has(method)) {
      return refusal(id, `the dashboard does not offer '${method.slice(0, 100)}'; use the API (trl, the SDK) with the bearer token for it`);
    }
    if (this.viewer.grant !== 'write') {
      return refusal(id, `this dashboard viewer is read-only: '${method}' needs a write grant; the daemon must run with --dashboard-write and the page be opened with \`trl dashboard --write\``);
    }
    const params = (typeof req.params === 'object' && req.params !== null ? req.params : {}) as Record<string, unknown>;
    const answer = await this.inner.handle(msg, conn);
    this.audit?.write({
      method: 'dashboard.write',
      action: method,
      viewer: this.viewer.id,
      command_id: typeof params.command_id === 'string' ? params.command_id : undefined,
      session_id: typeof params.session_id === 'string' ? params.session_id : undefined,
      signal: typeof params.signal === 'string' ? params.signal : undefined,
      input_bytes: typeof params.data === 'string' ? Buffer.byteLength(params.data) : undefined,
      ok: answer.response.ok,
    });
    return answer;
  }

  private attach(id: string | number | null, raw: unknown, conn: Connection): Awaited<ReturnType<RequestHandler['handle']>> {
    const parsed = ExecAttachParams.safeParse(raw ?? {});
    if (!parsed.success) return { response: { id, ok: false, error: new TrlError('INVALID_PARAMS', `exec.attach: ${parsed.error.issues[0]?.message ?? 'bad params'}`).toObject() } };
    const p = parsed.data;
    let cmd;
    try {
      cmd = this.rt.getCommand(p.command_id);
    } catch (err) {
      if (isTrlError(err)) return { response: { id, ok: false, error: err.toObject() } };
      throw err;
    }
    const from = typeof p.from_offset === 'number' ? { stdout: p.from_offset, stderr: p.from_offset } : { stdout: p.from_offset?.stdout ?? 0, stderr: p.from_offset?.stderr ?? 0 };
    const pump = new StreamPump(cmd, conn, p.encoding ?? 'utf8', from, () => this.rt.commandWorkingDir(cmd));
    this.pumps.set(pump.streamId, pump);
    return {
      response: { id, ok: true, data: { stream_id: pump.streamId, command_id: cmd.id } },
      after: (onEnd) =>
        pump.start(() => {
          this.pumps.delete(pump.streamId);
          onEnd?.();
        }),
    };
  }

  private detach(id: string | number | null, raw: unknown, conn: Connection): { response: Response } {
    const streamId = (raw as { stream_id?: unknown } | null)?.stream_id;
    const pump = typeof streamId === 'string' ? this.pumps.get(streamId) : undefined;
    if (pump && typeof streamId === 'string') {
      pump.stop();
      // The final event frees the socket's stream slot, as a command's end does.
      conn.send({ stream_id: streamId, event: 'exit', data: { detached: true } });
    }
    return { response: { id, ok: true, data: { stream_id: streamId ?? null, detached: pump !== undefined } } };
  }
}

function refusal(id: string | number | null, message: string): { response: Response } {
  return { response: { id, ok: false, error: new TrlError('PERMISSION_DENIED', message).toObject() } };
}
