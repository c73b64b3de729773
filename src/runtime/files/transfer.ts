import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { TrlError } from '../../protocol/errors.js';
import type { FileStat } from '../../tiers/tier-files.js';
import type { EngineState } from '../engine-state.js';
import { filesContext, modeText, parseMode } from './files-context.js';

/**
 * Whole files over HTTP (GET and PUT /v1/files): streams, so nothing is
 * limited to what one JSON line holds. The same jail, user and guards as
 * the fs.* methods.
 */

export async function download(st: EngineState, p: { session_id: string; path: string; offset: number; length: number | null }): Promise<{ path: string; stat: FileStat; stream: Readable }> {
  const ctx = filesContext(st, p.session_id);
  const wp = ctx.path(p.path);
  const r = await ctx.run('read', wp, () => ctx.files.readStream(wp.rel, p.offset, p.length));
  return { path: wp.display, ...r };
}

export interface UploadOptions {
  session_id: string;
  path: string;
  overwrite: boolean;
  mode: string | undefined;
  make_parents: boolean;
  expect_hash: string | undefined;
  /** The body's announced length: a body that ends short commits nothing. */
  size: number;
}

/** Write a request body as a whole file; FILE_TOO_LARGE (and nothing written) past max_upload_bytes. */
export async function upload(st: EngineState, p: UploadOptions, body: Readable): Promise<{ path: string; size: number; sha256: string; created: boolean; mode: string }> {
  const ctx = filesContext(st, p.session_id);
  const wp = ctx.path(p.path);
  const max = st.config.max_upload_bytes;
  const hash = createHash('sha256');
  let size = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > max) return cb(new TrlError('FILE_TOO_LARGE', `the upload is larger than max_upload_bytes (${max}); nothing was written`, { max_upload_bytes: max }));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  body.on('error', (err) => counted.destroy(err));
  body.pipe(counted);
  const w = await ctx.run('write', wp, () =>
    ctx.files.write(wp.rel, counted, { overwrite: p.overwrite, mode: parseMode(p.mode, 0o644), makeParents: p.make_parents, expectSha256: p.expect_hash, size: p.size }),
  );
  const sha256 = hash.digest('hex');
  ctx.audit({ method: 'fs.put', path: wp.display, size: w.size, sha256, created: w.created });
  return { path: wp.display, size: w.size, sha256, created: w.created, mode: modeText(w.mode) };
}
