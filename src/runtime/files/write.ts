import type { FsWriteParams } from '../../protocol/files.js';
import type { ResultOf } from '../../protocol/methods.js';
import { invalidParam } from '../checks.js';
import type { EngineState } from '../engine-state.js';
import { filesContext, modeText, parseMode } from './files-context.js';
import { sha256 } from './read.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The bytes of a `content` parameter. */
export function contentBytes(content: string, encoding: 'utf8' | 'base64' | undefined): Buffer {
  if (encoding !== 'base64') return Buffer.from(content, 'utf8');
  const compact = content.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) throw invalidParam('content', 'is not valid base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4)');
  return Buffer.from(compact, 'base64');
}

/** fs.write: the whole file, atomically; an existing one only with overwrite (its mode kept). */
export async function fsWrite(st: EngineState, p: FsWriteParams): Promise<ResultOf<'fs.write'>> {
  const ctx = filesContext(st, p.session_id);
  const wp = ctx.path(p.path);
  const data = contentBytes(p.content, p.encoding);
  const w = await ctx.run('write', wp, () =>
    ctx.files.write(wp.rel, data, { overwrite: p.overwrite ?? false, mode: parseMode(p.mode, 0o644), makeParents: p.make_parents ?? false, expectSha256: p.expect_hash }),
  );
  const hash = sha256(data);
  ctx.audit({ method: 'fs.write', path: wp.display, size: w.size, sha256: hash, created: w.created });
  return { path: wp.display, size: w.size, sha256: hash, created: w.created, mode: modeText(w.mode) };
}
