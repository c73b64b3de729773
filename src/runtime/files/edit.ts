import { TrlError } from '../../protocol/errors.js';
import type { FsEditParams } from '../../protocol/files.js';
import type { ResultOf } from '../../protocol/methods.js';
import type { EngineState } from '../engine-state.js';
import { applyEdits } from './apply-edits.js';
import { filesContext, isoTime } from './files-context.js';
import { decodeText, sha256 } from './read.js';
import { unifiedDiff } from './unified-diff.js';

/**
 * fs.edit: read the file (at most max_read_bytes of text), check the
 * precondition, apply the edits (apply-edits.ts), and write the result
 * atomically — only if the file still holds what was read (the write
 * checks its hash right before the rename), keeping its mode.
 */
export async function fsEdit(st: EngineState, p: FsEditParams): Promise<ResultOf<'fs.edit'>> {
  const ctx = filesContext(st, p.session_id);
  const wp = ctx.path(p.path);
  const max = st.config.max_read_bytes;
  const r = await ctx.run('edit', wp, () => ctx.files.read(wp.rel, { offset: 0, length: 0, wholeUpTo: max }));
  if (!r.whole) {
    throw new TrlError('FILE_TOO_LARGE', `'${wp.display}' is ${r.stat.size} bytes, more than max_read_bytes (${max}) for an edit; change it with a command, or raise max_read_bytes`, {
      path: wp.display,
      size: r.stat.size,
    });
  }
  const text = decodeText(r.data);
  if (text === null) throw new TrlError('INVALID_PARAMS', `'${wp.display}' is binary (a NUL byte, or not UTF-8): fs.edit changes text; replace it with fs.write`, { path: wp.display });
  const hash = sha256(r.data);
  const changed = (why: string, details: Record<string, unknown>) =>
    new TrlError('FILE_CHANGED', `'${wp.display}' changed since it was read (${why}); read it again (fs.read) and redo the edit against what it holds now`, { path: wp.display, ...details });
  if (p.expect_hash !== undefined && p.expect_hash !== hash) throw changed('its sha256 is not expect_hash', { expected: p.expect_hash, actual: hash });
  const mtime = isoTime(r.stat.mtimeMs);
  if (p.expect_mtime !== undefined && p.expect_mtime !== mtime) throw changed('its mtime is not expect_mtime', { expected: p.expect_mtime, actual: mtime });
  const edited = applyEdits(text, p.edits);
  const data = Buffer.from(edited.text, 'utf8');
  const newHash = sha256(data);
  const result = { path: wp.display, replacements: edited.counts, size: data.length, sha256: newHash, line_ending: edited.lineEnding, dry_run: p.dry_run ?? false };
  if (p.dry_run) return { ...result, diff: unifiedDiff(wp.display, text, edited.text) };
  await ctx.run('edit', wp, () => ctx.files.write(wp.rel, data, { overwrite: true, mode: r.stat.mode & 0o777, makeParents: false, expectSha256: hash }));
  ctx.audit({ method: 'fs.edit', path: wp.display, size: data.length, sha256: newHash, replacements: edited.counts });
  return { ...result, diff: null };
}
