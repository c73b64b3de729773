import type { ResultOf } from '../../protocol/methods.js';
import type { EngineState } from '../engine-state.js';
import { filesContext, isoTime, modeText } from './files-context.js';
import { sha256 } from './read.js';

/** fs.stat: what is at a path (with follow: false, a symlink itself and its target); a file's sha256 when it is at most max_read_bytes. */
export async function fsStat(st: EngineState, p: { session_id: string; path: string; follow?: boolean | undefined }): Promise<ResultOf<'fs.stat'>> {
  const ctx = filesContext(st, p.session_id);
  const wp = ctx.path(p.path);
  const s = await ctx.run('stat', wp, () => ctx.files.stat(wp.rel, p.follow ?? true));
  const out: ResultOf<'fs.stat'> = { path: wp.display, type: s.type, size: s.size, mode: modeText(s.mode), mtime: isoTime(s.mtimeMs), sha256: null };
  if (s.target !== undefined) out.symlink_target = s.target;
  if (s.type === 'file' && s.size <= st.config.max_read_bytes) {
    const max = st.config.max_read_bytes;
    const r = await ctx.run('stat', wp, () => ctx.files.read(wp.rel, { offset: 0, length: 0, wholeUpTo: max }));
    if (r.whole) out.sha256 = sha256(r.data);
  }
  return out;
}
