import { DEFAULT_RESULTS, MAX_RESULTS, type DirEntry } from '../../protocol/files.js';
import type { ResultOf } from '../../protocol/methods.js';
import type { ListedEntry, WalkQuery, WalkResult } from '../../tiers/tier-files.js';
import { escapeRegex } from '../../tiers/shared/files/glob.js';
import { invalidParam } from '../checks.js';
import type { EngineState } from '../engine-state.js';
import { filesContext, isoTime, type FilesContext, type WorkspacePath } from './files-context.js';

/** Entries one walk visits at most; past it the walk stops with what it found (total unknown). */
export const MAX_WALK_ENTRIES = 250_000;

interface Common {
  session_id: string;
  path?: string | undefined;
  offset?: number | undefined;
  limit?: number | undefined;
  no_ignore?: boolean | undefined;
}

type Page = { total: number | null; truncated: boolean; timed_out: boolean; next_offset: number | null; ignored: number };

async function walk(st: EngineState, p: Common, verb: string, fill: Partial<WalkQuery> & Pick<WalkQuery, 'kind'>): Promise<{ ctx: FilesContext; wp: WorkspacePath; r: WalkResult; page: Page }> {
  const ctx = filesContext(st, p.session_id);
  const wp = ctx.path(p.path);
  const offset = p.offset ?? 0;
  const limit = Math.min(p.limit ?? DEFAULT_RESULTS, MAX_RESULTS);
  const query: WalkQuery = {
    start: wp.rel,
    recursive: true,
    maxDepth: null,
    glob: null,
    searchType: 'any',
    regex: null,
    noIgnore: p.no_ignore ?? false,
    offset,
    limit,
    maxFileBytes: st.config.max_read_bytes,
    maxEntries: MAX_WALK_ENTRIES,
    timeMs: st.config.fs_timeout_s * 1000,
    ...fill,
  };
  const r = await ctx.run(verb, wp, () => ctx.files.walk(query));
  const returned = r.entries.length + r.hits.length;
  const more = r.total === null ? returned === limit : offset + returned < r.total;
  const page: Page = {
    total: r.total,
    truncated: r.total === null || offset + returned < r.total,
    timed_out: r.timedOut,
    next_offset: more ? offset + returned : null,
    ignored: r.ignored,
  };
  return { ctx, wp, r, page };
}

function entryOf(ctx: FilesContext, wp: WorkspacePath, e: ListedEntry): DirEntry {
  return { name: e.rel, path: ctx.below(wp, e.rel), type: e.type, size: e.size, mtime: isoTime(e.mtimeMs), ...(e.target !== undefined ? { symlink_target: e.target } : {}) };
}

export async function fsList(st: EngineState, p: Common & { recursive?: boolean | undefined; max_depth?: number | undefined }): Promise<ResultOf<'fs.list'>> {
  const { ctx, wp, r, page } = await walk(st, p, 'list', { kind: 'list', recursive: p.recursive ?? false, maxDepth: p.max_depth ?? null });
  return { path: wp.display, entries: r.entries.map((e) => entryOf(ctx, wp, e)), ...page };
}

export async function fsSearch(st: EngineState, p: Common & { pattern: string; type?: 'file' | 'dir' | 'any' | undefined }): Promise<ResultOf<'fs.search'>> {
  const { ctx, wp, r, page } = await walk(st, p, 'search', { kind: 'search', glob: p.pattern, searchType: p.type ?? 'any' });
  return { path: wp.display, matches: r.entries.map((e) => entryOf(ctx, wp, e)), ...page };
}

export async function fsGrep(
  st: EngineState,
  p: Common & { pattern: string; glob?: string | undefined; case_insensitive?: boolean | undefined; literal?: boolean | undefined },
): Promise<ResultOf<'fs.grep'>> {
  const source = p.literal ? escapeRegex(p.pattern) : p.pattern;
  const flags = p.case_insensitive ? 'i' : '';
  try {
    // Compiling is safe (no input yet); running it happens off the event loop, bounded in time.
    new RegExp(source, flags);
  } catch (err) {
    throw invalidParam('pattern', `is not a valid JavaScript regular expression (${(err as Error).message}); fix it, or pass literal: true to search for the text itself`);
  }
  const { ctx, wp, r, page } = await walk(st, p, 'grep', { kind: 'grep', glob: p.glob ?? null, regex: { source, flags } });
  return {
    path: wp.display,
    matches: r.hits.map((h) => ({ path: ctx.below(wp, h.rel), line: h.line, text: h.text })),
    files_searched: r.filesSearched,
    skipped_files: r.skippedFiles,
    ...page,
  };
}
