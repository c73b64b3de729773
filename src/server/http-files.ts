import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { isTrlError, TrlError, type ErrorCode } from '../protocol/errors.js';
import { FileMode } from '../protocol/files.js';
import type { Engine } from '../runtime/engine.js';
import { closeAfterAnswer, discardBody } from './unread-body.js';

export const FILES_PATH = '/v1/files';

/** The HTTP status of a protocol error on the files route. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_PARAMS: 400,
  AUTH_FAILED: 401,
  PERMISSION_DENIED: 403,
  PATH_OUTSIDE_WORKSPACE: 403,
  SESSION_NOT_FOUND: 404,
  PATH_NOT_FOUND: 404,
  PATH_EXISTS: 409,
  FILE_CHANGED: 409,
  NOT_A_FILE: 409,
  NOT_A_DIRECTORY: 409,
  FILE_TOO_LARGE: 413,
  SHUTTING_DOWN: 503,
};

/**
 * Whole files over HTTP, with the bearer token like every route:
 * `GET /v1/files?session_id=…&path=…[&offset=…&length=…]` streams a file's
 * bytes; `PUT /v1/files?session_id=…&path=…[&overwrite=1&mode=0644&make_parents=1&expect_hash=…]`
 * writes the body as the whole file (atomically; a Content-Length is
 * needed, at most max_upload_bytes). Same jail, user and guards as fs.*.
 * Errors are the protocol's envelope with a matching HTTP status.
 */
export async function serveFiles(req: IncomingMessage, res: ServerResponse, engine: Engine, maxUpload: number): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://trl');
  const q = url.searchParams;
  try {
    const session_id = required(q, 'session_id');
    const path = required(q, 'path');
    if (req.method === 'GET' || req.method === 'HEAD') {
      discardBody(req, res);
      const offset = integer(q, 'offset') ?? 0;
      const length = integer(q, 'length');
      const d = await engine.downloadFile({ session_id, path, offset, length });
      const size = Math.max(0, Math.min(d.stat.size - offset, length ?? Infinity));
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(size),
        'X-Trl-Path': encodeURIComponent(d.path),
        'X-Trl-Size': String(d.stat.size),
        'Last-Modified': new Date(d.stat.mtimeMs).toUTCString(),
      });
      if (req.method === 'HEAD') {
        d.stream.destroy();
        res.end();
        return;
      }
      await pipeline(d.stream, res).catch(() => res.destroy());
      return;
    }
    if (req.method === 'PUT') {
      const declared = req.headers['content-length'];
      if (declared === undefined)
        throw Object.assign(new TrlError('INVALID_PARAMS', `PUT ${FILES_PATH} needs a Content-Length (the size is checked before anything is written); send the file with its length`), {
          status: 411,
        });
      const size = Number(declared);
      if (size > maxUpload) throw new TrlError('FILE_TOO_LARGE', `the upload is ${size} bytes, more than max_upload_bytes (${maxUpload}); nothing was written`, { max_upload_bytes: maxUpload });
      const mode = q.get('mode') ?? undefined;
      if (mode !== undefined && !FileMode.safeParse(mode).success) throw new TrlError('INVALID_PARAMS', 'mode: octal permission bits such as 0644 or 755');
      const data = await engine.uploadFile(
        { session_id, path, overwrite: flag(q, 'overwrite'), mode, make_parents: flag(q, 'make_parents'), expect_hash: q.get('expect_hash') ?? undefined, size },
        req,
      );
      json(res, 200, { id: null, ok: true, data });
      return;
    }
    discardBody(req, res);
    res.setHeader('Allow', 'GET, HEAD, PUT, OPTIONS');
    json(res, 405, { id: null, ok: false, error: new TrlError('METHOD_NOT_FOUND', `${FILES_PATH} takes GET (download) or PUT (upload)`).toObject() });
  } catch (err) {
    closeAfterAnswer(req, res);
    const e = isTrlError(err) ? err : new TrlError('INTERNAL_ERROR', `internal error: ${(err as Error)?.message ?? String(err)}; please report it`);
    const status = (err as { status?: number }).status ?? STATUS[e.code] ?? 500;
    if (res.headersSent) res.destroy();
    else json(res, status, { id: null, ok: false, error: e.toObject() });
  }
}

function required(q: URLSearchParams, name: string): string {
  const v = q.get(name);
  if (v === null || v === '') throw new TrlError('INVALID_PARAMS', `${name}: missing; give it in the query string (?${name}=…)`, { issues: [{ path: name, message: 'missing' }] });
  if (v.includes('\0')) throw new TrlError('INVALID_PARAMS', `${name}: must not contain a NUL byte`);
  return v;
}

function integer(q: URLSearchParams, name: string): number | null {
  const v = q.get(name);
  if (v === null) return null;
  // 15 digits at most: every such number is exact in a double, and larger ones (or 10^23) are no file's offset.
  if (!/^\d{1,15}$/.test(v)) throw new TrlError('INVALID_PARAMS', `${name}: a whole number of bytes, 0 to 999999999999999`);
  return Number(v);
}

function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === '1' || v === 'true' || v === 'yes';
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}
