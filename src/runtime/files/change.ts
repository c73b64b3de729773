import type { ResultOf } from '../../protocol/methods.js';
import type { FileMode } from '../../protocol/files.js';
import type { EngineState } from '../engine-state.js';
import { filesContext, parseMode } from './files-context.js';

/** fs.mkdir. */
export async function fsMkdir(st: EngineState, p: { session_id: string; path: string; parents?: boolean | undefined; mode?: FileMode | undefined }): Promise<ResultOf<'fs.mkdir'>> {
  const ctx = filesContext(st, p.session_id);
  const wp = ctx.path(p.path);
  const r = await ctx.run('create the directory', wp, () => ctx.files.mkdir(wp.rel, p.parents ?? false, parseMode(p.mode, 0o755)));
  if (r.created) ctx.audit({ method: 'fs.mkdir', path: wp.display });
  return { path: wp.display, created: r.created };
}

/** fs.remove: never through a link; a directory's tree only with recursive. */
export async function fsRemove(st: EngineState, p: { session_id: string; path: string; recursive?: boolean | undefined }): Promise<ResultOf<'fs.remove'>> {
  const ctx = filesContext(st, p.session_id);
  const wp = ctx.path(p.path);
  const r = await ctx.run('remove', wp, () => ctx.files.remove(wp.rel, p.recursive ?? false));
  ctx.audit({ method: 'fs.remove', path: wp.display, removed: r.removed, recursive: p.recursive ?? false });
  return { path: wp.display, removed: r.removed };
}

/** fs.move: a rename inside the workspace; `to` is the new path itself. */
export async function fsMove(st: EngineState, p: { session_id: string; path: string; to: string; overwrite?: boolean | undefined; make_parents?: boolean | undefined }): Promise<ResultOf<'fs.move'>> {
  const ctx = filesContext(st, p.session_id);
  const from = ctx.path(p.path);
  const to = ctx.path(p.to, 'to');
  await ctx.run('move', from, () => ctx.files.move(from.rel, to.rel, p.overwrite ?? false, p.make_parents ?? false));
  ctx.audit({ method: 'fs.move', path: from.display, to: to.display });
  return { path: from.display, to: to.display };
}
