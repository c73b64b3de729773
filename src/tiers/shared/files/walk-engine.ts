import type { EntryType, GrepHit, ListedEntry, WalkQuery, WalkResult } from '../../tier-files.js';
import { fail } from './file-op-error.js';
import { IgnoreStack } from './gitignore.js';
import { pathMatcher } from './glob.js';
import { matchLines } from './line-match.js';

/** Grep lines are clipped to this many characters (PROTOCOL §7). */
const GREP_LINE_CHARS = 500;
/** A .gitignore larger than this is not read. */
const MAX_GITIGNORE_BYTES = 1024 * 1024;
/** Directories below the start at most, whatever max_depth says (each holds a descriptor or a stack frame). */
const MAX_DEPTH = 128;

export interface SourceEntry {
  name: string;
  type: EntryType;
  size: number;
  mtimeMs: number;
  target?: string | undefined;
}

/**
 * Where a walk reads from: a jail of descriptors (jail-walk-source.ts) or
 * the docker helper (docker/files-walk.ts). Paths are physical components
 * from the workspace root. No method follows a symlink while walking.
 */
export interface WalkSource {
  /** Where the start really is (symlinks in it resolved inside the workspace), and what it is. */
  start(path: string[]): Promise<{ rel: string[] } & SourceEntry>;
  /** The entries of a directory, in any order; null when it is not a directory there any more. */
  list(dir: string[]): Promise<SourceEntry[] | null>;
  /** A regular file's content; 'large' over maxBytes; null when it is not a regular file there (any more). */
  read(file: string[], maxBytes: number): Promise<Buffer | 'large' | null>;
  /** Files of one directory about to be read, in order (a source that reads in batches fetches them now). */
  prefetch?(files: string[][], maxBytes: number): Promise<void>;
}

/** A prefetch batch at most: files, and bytes by their listed sizes. */
const PREFETCH_FILES = 256;
const PREFETCH_BYTES = 16 * 1024 * 1024;

/**
 * One fs.list, fs.search or fs.grep: a depth-first walk by name (each
 * directory's entries in name order, a directory's contents right after
 * it), skipping what .gitignore files (and .git) exclude unless noIgnore,
 * keeping only the page [offset, offset + limit) and counting the rest. It
 * stops at its time or entry bound with what it found; the total is then
 * unknown. Runs where blocking is harmless: a helper process or a worker.
 */
export async function runWalk(q: WalkQuery, src: WalkSource, now: () => number = Date.now): Promise<WalkResult> {
  const deadline = now() + q.timeMs;
  const entries: ListedEntry[] = [];
  const hits: GrepHit[] = [];
  let count = 0;
  let visited = 0;
  let ignored = 0;
  let filesSearched = 0;
  let skippedFiles = 0;
  let stopped: 'time' | 'entries' | null = null;
  const matcher = q.glob !== null ? pathMatcher(q.glob) : null;
  const re = q.regex ? new RegExp(q.regex.source, q.regex.flags) : null;

  const take = (): boolean => {
    count++;
    return count > q.offset && entries.length + hits.length < q.limit;
  };
  const shouldStop = (): boolean => {
    if (stopped) return true;
    if (now() > deadline) stopped = 'time';
    else if (visited > q.maxEntries) stopped = 'entries';
    return stopped !== null;
  };
  const listed = (rel: string, e: SourceEntry): ListedEntry => ({ rel, type: e.type, size: e.size, mtimeMs: e.mtimeMs, ...(e.target !== undefined ? { target: e.target } : {}) });
  const grepFile = async (path: string[], rel: string): Promise<void> => {
    const content = await src.read(path, q.maxFileBytes);
    if (content === null) return;
    if (content === 'large') {
      skippedFiles++;
      return;
    }
    filesSearched++;
    const outcome = matchLines(content, re!, GREP_LINE_CHARS, (line, text) => {
      if (take()) hits.push({ rel, line, text });
      // The time bound holds inside a huge file too.
      if ((count & 1023) === 0 && shouldStop()) return false;
    });
    if (outcome === 'binary') skippedFiles++;
  };

  const walkDir = async (physical: string[], relParts: string[], inherited: IgnoreStack, depth: number): Promise<void> => {
    const list = await src.list(physical);
    if (!list) return;
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let ignores = inherited;
    if (!q.noIgnore && list.some((e) => e.name === '.gitignore' && e.type === 'file')) {
      ignores = ignores.with(physical.join('/'), await readText(src, [...physical, '.gitignore']));
    }
    // The files of this directory that grep will read, for a source that fetches them in batches.
    const reads = q.kind === 'grep' && src.prefetch ? list.filter((e) => e.type === 'file' && e.size <= q.maxFileBytes) : [];
    let fetched = 0;
    const prefetchFrom = async (e: SourceEntry) => {
      let i = reads.indexOf(e);
      if (i < fetched) return;
      const batch: string[][] = [];
      for (let bytes = 0; i < reads.length && batch.length < PREFETCH_FILES && (batch.length === 0 || bytes + reads[i]!.size <= PREFETCH_BYTES); i++) {
        const r = reads[i]!;
        if (!q.noIgnore && ignores.ignores([...physical, r.name].join('/'), false)) continue;
        if (matcher && !matcher(relParts.length === 0 ? r.name : `${relParts.join('/')}/${r.name}`, r.name)) continue;
        bytes += r.size;
        batch.push([...physical, r.name]);
      }
      fetched = i;
      if (batch.length > 0) await src.prefetch!(batch, q.maxFileBytes);
    };
    for (const e of list) {
      if (shouldStop()) return;
      visited++;
      const rel = relParts.length === 0 ? e.name : `${relParts.join('/')}/${e.name}`;
      const isDir = e.type === 'dir';
      if (!q.noIgnore && ((isDir && e.name === '.git') || ignores.ignores([...physical, e.name].join('/'), isDir))) {
        ignored++;
        continue;
      }
      if (q.kind === 'list') {
        if (take()) entries.push(listed(rel, e));
      } else if (q.kind === 'search') {
        const typeOk = q.searchType === 'any' || (q.searchType === 'dir' ? isDir : e.type === 'file');
        if (typeOk && matcher!(rel, e.name) && take()) entries.push(listed(rel, e));
      } else if (e.type === 'file' && (!matcher || matcher(rel, e.name))) {
        if (reads.length > 0 && e.size <= q.maxFileBytes) await prefetchFrom(e);
        await grepFile([...physical, e.name], rel);
      }
      const deeper = q.kind !== 'list' || (q.recursive && (q.maxDepth === null || depth + 1 < q.maxDepth));
      if (isDir && deeper && depth + 1 < MAX_DEPTH) await walkDir([...physical, e.name], [...relParts, e.name], ignores, depth + 1);
    }
  };

  const start = await src.start(q.start);
  let ignores = IgnoreStack.empty();
  if (!q.noIgnore) {
    for (let i = 0; i < start.rel.length; i++) {
      const dir = start.rel.slice(0, i);
      ignores = ignores.with(dir.join('/'), await readText(src, [...dir, '.gitignore']));
    }
  }
  if (start.type === 'dir') {
    await walkDir(start.rel, [], ignores, 0);
  } else if (q.kind === 'grep' && start.type === 'file') {
    await grepFile(start.rel, '');
  } else {
    throw fail('NOT_A_DIRECTORY', start.rel, q.kind === 'grep' ? 'not a regular file or a directory' : undefined);
  }
  return { entries, hits, total: stopped ? null : count, timedOut: stopped === 'time', ignored, filesSearched, skippedFiles };
}

async function readText(src: WalkSource, path: string[]): Promise<string | null> {
  const data = await src.read(path, MAX_GITIGNORE_BYTES);
  return data === null || data === 'large' ? null : data.toString('utf8');
}
