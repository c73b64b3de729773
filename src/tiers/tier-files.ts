import type { Readable } from 'node:stream';

/**
 * A session's files, as its tier reaches them (PROTOCOL §7). Paths are
 * workspace-relative components (no '', '.' or '..'; [] is the workspace
 * itself): the runtime turns the client's paths into them. Every tier
 * resolves them inside the workspace where the file is opened — never by
 * checking a string first — with the session's user's permissions and the
 * tier's protected paths (workspace-guard.ts) in force; failures are
 * FileOpErrors (shared/files/file-op-error.ts).
 */

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface FileStat {
  type: EntryType;
  size: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  mtimeMs: number;
  /** What a symlink points to (lstat of a link only). */
  target?: string | undefined;
}

export interface ReadRequest {
  /** First byte. */
  offset: number;
  /** Bytes at most (already clamped by the caller). */
  length: number;
  /** Also read the whole file when it is at most this large (for its hash and line mode); 0: only the range. */
  wholeUpTo: number;
}

export interface ReadResult {
  stat: FileStat;
  /** The bytes [offset, offset + length), or the whole file when it was at most wholeUpTo. */
  data: Buffer;
  /** Whether `data` is the whole file. */
  whole: boolean;
}

export interface WriteRequest {
  overwrite: boolean;
  /** Mode of a new file; an existing one keeps its own. */
  mode: number;
  makeParents: boolean;
  /** Replace the file only if its current content has this sha256 (checked right before the rename). */
  expectSha256?: string | undefined;
  /** Bytes the content must come to (a stream that ends early commits nothing); checked before the rename. */
  size?: number | undefined;
}

export interface WriteResult {
  created: boolean;
  size: number;
  mode: number;
}

export interface ListedEntry {
  /** Path relative to the walk's start directory, components joined by '/'. */
  rel: string;
  type: EntryType;
  size: number;
  mtimeMs: number;
  target?: string | undefined;
}

export interface GrepHit {
  rel: string;
  line: number;
  text: string;
}

/** One walk: a listing, a name search or a grep below `start` (shared/files/walk-engine.ts runs it). */
export interface WalkQuery {
  kind: 'list' | 'search' | 'grep';
  start: string[];
  /** list: descend; search and grep always do. */
  recursive: boolean;
  maxDepth: number | null;
  /** search: the pattern; grep: the file filter. */
  glob: string | null;
  searchType: 'file' | 'dir' | 'any';
  /** grep: the expression (source and flags), already checked to compile. */
  regex: { source: string; flags: string } | null;
  noIgnore: boolean;
  offset: number;
  limit: number;
  /** grep: larger files are skipped. */
  maxFileBytes: number;
  /** Entries visited at most (the walk then stops, total unknown). */
  maxEntries: number;
  /** Milliseconds the walk may take; it then stops with what it found (timedOut). */
  timeMs: number;
}

export interface WalkResult {
  /** list, search: entries; grep: hits. In walk order, the page [offset, offset + limit). */
  entries: ListedEntry[];
  hits: GrepHit[];
  /** All results, when the walk completed; null when it stopped early. */
  total: number | null;
  timedOut: boolean;
  ignored: number;
  filesSearched: number;
  skippedFiles: number;
}

export type ChangeKind = 'create' | 'write' | 'remove' | 'rename';

export interface ChangeEvent {
  kind: ChangeKind;
  /** Relative to the watched directory. */
  rel: string;
}

export interface Watcher {
  /** Stop watching; idempotent. */
  close(): void;
}

export interface WatchSink {
  change(event: ChangeEvent): void;
  /** The watch ended by itself (its directory removed, the session ending, an error); no more events. */
  ended(reason: string): void;
}

export interface TierFiles {
  stat(path: string[], follow: boolean): Promise<FileStat>;
  read(path: string[], req: ReadRequest): Promise<ReadResult>;
  /** The bytes [offset, offset + length) as a stream (length null: to the end), for GET /v1/files. */
  readStream(path: string[], offset: number, length: number | null): Promise<{ stat: FileStat; stream: Readable }>;
  /** Write the whole file atomically: a temporary file in the same directory, then a rename. */
  write(path: string[], content: Buffer | Readable, req: WriteRequest): Promise<WriteResult>;
  mkdir(path: string[], parents: boolean, mode: number): Promise<{ created: boolean }>;
  /** Remove a file, a link or a directory (its whole tree with recursive); links are never followed. */
  remove(path: string[], recursive: boolean): Promise<{ removed: number }>;
  move(from: string[], to: string[], overwrite: boolean, makeParents: boolean): Promise<void>;
  walk(query: WalkQuery): Promise<WalkResult>;
  watch(path: string[], recursive: boolean, sink: WatchSink): Promise<Watcher>;
  /** Release helpers and descriptors (the session ends). */
  close(): Promise<void>;
}
