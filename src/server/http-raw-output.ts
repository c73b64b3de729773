import type { IncomingMessage, ServerResponse } from 'node:http';
import { isTrlError, TrlError, type ErrorCode } from '../protocol/errors.js';
import type { Engine } from '../runtime/engine.js';
import { RawPump, type RawSink } from './raw-pump.js';
import type { StreamSlots } from './stream-slots.js';
import { discardBody } from './unread-body.js';

/** GET /v1/sessions/{session_id}/commands/{command_id}/output */
const ROUTE = /^\/v1\/sessions\/([^/]+)\/commands\/([^/]+)\/output$/;
export const RAW_OUTPUT_PATH = '/v1/sessions/{session_id}/commands/{command_id}/output';
/** Above this many unsent bytes the response counts as full (as the event streams' mark). */
const HIGH_WATER = 1024 * 1024;

const STATUS: Partial<Record<ErrorCode, number>> = { INVALID_PARAMS: 400, COMMAND_NOT_FOUND: 404, SESSION_NOT_FOUND: 404, RESOURCE_PRESSURE: 429, SHUTTING_DOWN: 503 };

/** The ids in a raw output path, or null if the path is not one. */
export function rawOutputRoute(path: string): { sessionId: string; commandId: string } | null {
  const m = ROUTE.exec(path);
  if (!m) return null;
  try {
    return { sessionId: decodeURIComponent(m[1] as string), commandId: decodeURIComponent(m[2] as string) };
  } catch {
    return null;
  }
}

/**
 * A command's output as raw bytes over HTTP, as it is produced (the same
 * bytes exec.output returns, redacted alike): `?stream=stdout|stderr`
 * (default stdout), `offset=N` (default 0), `follow=0` for only the bytes
 * there are now. The body is chunked; `X-Trl-Offset` says where it starts
 * (past a dropped middle: `X-Trl-Dropped-Bytes`), and the trailers
 * `X-Trl-End` (eof | gap | now) and `X-Trl-Next-Offset` how it ended: after
 * a `gap` (a reader that stopped reading lost bytes) or a cut connection,
 * GET again from the next offset. A slow reader holds the command back, as
 * exec.stream's does. Errors are the protocol's envelope with a matching
 * HTTP status. The bearer token was checked before.
 */
export function serveRawOutput(req: IncomingMessage, res: ServerResponse, route: { sessionId: string; commandId: string }, engine: Engine, slots: StreamSlots): void {
  discardBody(req, res);
  try {
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET, OPTIONS');
      throw Object.assign(new TrlError('METHOD_NOT_FOUND', `${RAW_OUTPUT_PATH} takes GET`), { status: 405 });
    }
    const q = new URL(req.url ?? '/', 'http://trl').searchParams;
    const stream = q.get('stream') ?? 'stdout';
    if (stream !== 'stdout' && stream !== 'stderr') throw new TrlError('INVALID_PARAMS', 'stream: stdout or stderr');
    const offset = wholeNumber(q.get('offset'), 'offset') ?? 0;
    const follow = q.get('follow') !== '0' && q.get('follow') !== 'false';
    const cmd = engine.getCommand(route.commandId);
    if (cmd.spec.sessionId !== route.sessionId)
      throw new TrlError('COMMAND_NOT_FOUND', `command '${route.commandId}' is not a command of session '${route.sessionId}'; check both ids (exec.list lists a session's commands)`);
    const client = req.socket.remoteAddress ?? 'unknown';
    if (!slots.tryAcquire(client)) throw slots.error();
    const release = slots.releaser(client);
    const pump = new RawPump(cmd, stream, offset, follow);
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'X-Accel-Buffering': 'no',
      'X-Trl-Command-Id': cmd.id,
      'X-Trl-Offset': String(pump.startOffset),
      'X-Trl-Dropped-Bytes': String(pump.droppedBytes),
      Trailer: 'X-Trl-End, X-Trl-Next-Offset',
    });
    // The head goes out now, before any byte: the client sees at once that it is attached.
    res.flushHeaders();
    res.once('close', release);
    pump.start(responseSink(res), release);
  } catch (err) {
    const e = isTrlError(err) ? err : new TrlError('INTERNAL_ERROR', `internal error: ${(err as Error)?.message ?? String(err)}; please report it`);
    const status = (err as { status?: number }).status ?? STATUS[e.code] ?? 500;
    const text = JSON.stringify({ id: null, ok: false, error: e.toObject() });
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
    res.end(text);
  }
}

function responseSink(res: ServerResponse): RawSink {
  return {
    write: (chunks) => {
      if (res.destroyed || res.writableEnded) return;
      res.cork();
      for (const chunk of chunks) res.write(chunk);
      res.uncork();
    },
    writable: () => !res.destroyed && res.writableLength < HIGH_WATER,
    onDrain: (fn) => {
      if (res.writableLength < HIGH_WATER) setImmediate(fn);
      else res.once('drain', fn);
    },
    onClose: (fn) => {
      res.once('close', fn);
      return () => res.off('close', fn);
    },
    get closed() {
      return res.destroyed || res.writableEnded;
    },
    end: (reason, nextOffset) => {
      if (res.destroyed || res.writableEnded) return;
      res.addTrailers({ 'X-Trl-End': reason, 'X-Trl-Next-Offset': String(nextOffset) });
      res.end();
    },
  };
}

function wholeNumber(v: string | null, name: string): number | null {
  if (v === null) return null;
  if (!/^\d{1,15}$/.test(v)) throw new TrlError('INVALID_PARAMS', `${name}: a whole number of bytes, 0 or more`);
  return Number(v);
}
