import { z } from 'zod';
import { AnyPath, Encoding, SessionId } from './common.js';

/**
 * The files API (PROTOCOL §7): every path is relative to the session's cwd
 * or absolute, and must resolve inside the session's workspace, symlinks
 * included, on every tier.
 */

/** Results of list, search and grep per call: 100 unless asked, never more than this. */
export const MAX_RESULTS = 1000;
export const DEFAULT_RESULTS = 100;
/** Lines of a line-mode read unless asked. */
export const DEFAULT_LINE_LIMIT = 2000;
/** Longer lines are clipped in a line-mode read, with a marker saying how much was cut. */
export const MAX_LINE_CHARS = 2000;
/** Lines of grep matches are clipped to this many characters. */
export const GREP_LINE_CHARS = 500;
/** Edits in one fs.edit. */
export const MAX_EDITS = 100;

const FsPath = AnyPath.describe('relative to the session cwd, or absolute; must resolve inside the workspace (symlinks included)');
const Session = SessionId.describe('the session whose workspace is the jail');
const Offset = z.number().int().min(0).optional().describe('skip this many results (paging); default 0');
const Limit = z.number().int().min(1).optional().describe(`results per call: default ${DEFAULT_RESULTS}; more than ${MAX_RESULTS} is clamped to ${MAX_RESULTS}`);
const NoIgnore = z.boolean().optional().describe('include what .gitignore files (and .git) exclude; default false');
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, { message: 'a sha256 as fs.read or fs.stat return it: 64 lowercase hex digits' });
/** A file mode: a number (420) or octal digits ("0644", "755"); permission bits only. */
export const FileMode = z
  .union([z.number().int().min(0).max(0o777), z.string().regex(/^0?[0-7]{3}$/, { message: 'octal permission bits such as "0644" or "755"' })])
  .describe('permission bits: a number (420) or octal text ("0644"); setuid, setgid and sticky bits are refused');
export type FileMode = z.infer<typeof FileMode>;

export const FileType = z.enum(['file', 'dir', 'symlink', 'other']);
export type FileType = z.infer<typeof FileType>;

const Mtime = z.string().describe('modification time, ISO 8601');
const ModeText = z.string().describe('permission bits in octal, e.g. "0644"');

export const FsReadParams = z
  .strictObject({
    session_id: Session,
    path: FsPath,
    encoding: Encoding.optional().describe('utf8 (default; a binary file is refused) or base64 (bytes, any file)'),
    offset: z.number().int().min(0).optional().describe('byte mode: first byte to read'),
    length: z.number().int().min(1).optional().describe('byte mode: bytes to read; at most max_read_bytes (more is clamped, eof says whether the end was reached)'),
    line_offset: z.number().int().min(0).optional().describe('line mode (utf8 without offset/length): lines to skip; default 0'),
    line_limit: z.number().int().min(1).optional().describe(`line mode: lines to return; default ${DEFAULT_LINE_LIMIT}`),
  })
  .superRefine((p, ctx) => {
    const bytes = p.offset !== undefined || p.length !== undefined;
    const lines = p.line_offset !== undefined || p.line_limit !== undefined;
    if (bytes && lines) ctx.addIssue({ code: 'custom', path: ['line_offset'], message: 'give a byte range (offset, length) or a line range (line_offset, line_limit), not both' });
    if (lines && p.encoding === 'base64') ctx.addIssue({ code: 'custom', path: ['encoding'], message: 'a line range is text: use encoding utf8, or a byte range (offset, length) with base64' });
  });
export type FsReadParams = z.infer<typeof FsReadParams>;

export const FsReadResult = z.object({
  path: z.string().describe('absolute path of the file read'),
  content: z.string(),
  encoding: Encoding,
  size: z.number().int().describe('size of the whole file in bytes'),
  eof: z.boolean().describe('the content reaches the end of the file'),
  truncated: z.boolean().describe('not all of the file is in content: lines or bytes left out, or long lines clipped'),
  total_lines: z.number().int().nullable().describe('lines in the whole file (line mode)'),
  line_offset: z.number().int().nullable().describe('lines skipped before content (line mode)'),
  lines: z.number().int().nullable().describe('lines in content (line mode)'),
  clipped_lines: z.number().int().describe(`lines longer than ${MAX_LINE_CHARS} characters, clipped with a marker`),
  sha256: z.string().nullable().describe('hash of the whole file (the precondition of fs.edit and fs.write); null when the file is larger than max_read_bytes'),
  mtime: Mtime,
  mode: ModeText,
});

export const FsWriteParams = z.strictObject({
  session_id: Session,
  path: FsPath,
  content: z.string().describe('the whole new content'),
  encoding: Encoding.optional().describe('of content: utf8 (default) or base64'),
  overwrite: z.boolean().optional().describe('replace an existing file (keeping its mode); default false: PATH_EXISTS'),
  mode: FileMode.optional().describe('permission bits of a new file (default 0644); an existing file keeps its own'),
  make_parents: z.boolean().optional().describe('create missing parent directories; default false'),
  expect_hash: Sha256.optional().describe('only replace the file if its content still has this sha256 (else FILE_CHANGED)'),
});
export type FsWriteParams = z.infer<typeof FsWriteParams>;

export const FsWriteResult = z.object({
  path: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  created: z.boolean().describe('the file did not exist before'),
  mode: ModeText,
});

export const FsEdit = z.strictObject({
  old: z.string().min(1).describe('exact text to replace; must occur exactly once unless replace_all'),
  new: z.string().describe('replacement text'),
  replace_all: z.boolean().optional().describe('replace every occurrence'),
});

export const FsEditParams = z
  .strictObject({
    session_id: Session,
    path: FsPath,
    edits: z.array(FsEdit).min(1).max(MAX_EDITS).describe('applied in order, each to the result of the ones before; all or none'),
    expect_hash: Sha256.optional().describe('refuse (FILE_CHANGED) unless the file still has this sha256 (from fs.read or fs.stat)'),
    expect_mtime: z.string().optional().describe('refuse (FILE_CHANGED) unless the file still has this mtime (from fs.read or fs.stat)'),
    dry_run: z.boolean().optional().describe('change nothing; return the unified diff'),
  })
  .superRefine((p, ctx) => {
    p.edits.forEach((e, i) => {
      if (e.old === e.new) ctx.addIssue({ code: 'custom', path: ['edits', i, 'new'], message: '`new` is the same as `old`: this edit would change nothing' });
    });
  });
export type FsEditParams = z.infer<typeof FsEditParams>;

export const FsEditResult = z.object({
  path: z.string(),
  replacements: z.array(z.number().int()).describe('occurrences replaced by each edit'),
  size: z.number().int(),
  sha256: z.string().describe('hash of the new content'),
  line_ending: z.enum(['lf', 'crlf']).describe('line endings of the file, kept: edits written with \\n become \\r\\n in a CRLF file'),
  dry_run: z.boolean(),
  diff: z.string().nullable().describe('unified diff of the change (dry_run)'),
});

export const DirEntry = z.object({
  name: z.string().describe('path relative to the listed directory'),
  path: z.string().describe('absolute path'),
  type: FileType,
  size: z.number().int(),
  mtime: Mtime,
  symlink_target: z.string().optional().describe('what a symlink points to (never followed by a listing)'),
});
export type DirEntry = z.infer<typeof DirEntry>;

const pageShape = {
  total: z.number().int().nullable().describe('results in all; null when the walk stopped early (timed_out or its entry bound)'),
  truncated: z.boolean().describe('more results exist than were returned (see next_offset), or the walk stopped early'),
  timed_out: z.boolean().describe('the walk hit its time bound; what was found so far is returned'),
  next_offset: z.number().int().nullable().describe('offset of the next page, or null when this is the last'),
  ignored: z.number().int().describe('entries left out because .gitignore (or .git) excludes them'),
};

export const FsListParams = z.strictObject({
  session_id: Session,
  path: FsPath.optional().describe('directory; default the session cwd'),
  recursive: z.boolean().optional().describe('the whole tree below (directories first, then their contents, by name)'),
  max_depth: z.number().int().min(1).optional().describe('recursive: levels below path at most'),
  offset: Offset,
  limit: Limit,
  no_ignore: NoIgnore,
});
export const FsListResult = z.object({ path: z.string(), entries: z.array(DirEntry), ...pageShape });

export const FsSearchParams = z.strictObject({
  session_id: Session,
  pattern: z.string().min(1).max(1000).describe('glob: * ? [abc] {a,b} and **; without a / it matches the name at any depth, with one the path from `path`'),
  path: FsPath.optional().describe('directory searched; default the session cwd'),
  type: z.enum(['file', 'dir', 'any']).optional().describe('what to match; default any'),
  offset: Offset,
  limit: Limit,
  no_ignore: NoIgnore,
});
export const FsSearchResult = z.object({ path: z.string(), matches: z.array(DirEntry), ...pageShape });

export const FsGrepParams = z.strictObject({
  session_id: Session,
  pattern: z.string().min(1).max(10_000).describe('JavaScript regular expression, matched against each line'),
  path: FsPath.optional().describe('file or directory searched; default the session cwd'),
  glob: z.string().min(1).max(1000).optional().describe('only files whose name (or path, with a /) matches this glob'),
  case_insensitive: z.boolean().optional(),
  literal: z.boolean().optional().describe('pattern is plain text, not a regular expression'),
  offset: Offset,
  limit: Limit,
  no_ignore: NoIgnore,
});
export const GrepMatch = z.object({
  path: z.string().describe('absolute path of the file'),
  line: z.number().int().describe('line number, from 1'),
  text: z.string().describe(`the line, clipped to ${GREP_LINE_CHARS} characters`),
});
export const FsGrepResult = z.object({
  path: z.string(),
  matches: z.array(GrepMatch),
  files_searched: z.number().int(),
  skipped_files: z.number().int().describe('binary files and files larger than max_read_bytes, not searched'),
  ...pageShape,
});

export const FsStatParams = z.strictObject({
  session_id: Session,
  path: FsPath,
  follow: z.boolean().optional().describe('describe what a symlink points to (default true); false: the link itself'),
});
export const FsStatResult = z.object({
  path: z.string(),
  type: FileType,
  size: z.number().int(),
  mode: ModeText,
  mtime: Mtime,
  symlink_target: z.string().optional().describe('with follow: false, what the link points to'),
  sha256: z.string().nullable().describe("a regular file's content hash (the precondition of fs.edit and fs.write), when it is at most max_read_bytes"),
});

export const FsMkdirParams = z.strictObject({
  session_id: Session,
  path: FsPath,
  parents: z.boolean().optional().describe('create missing parents, and succeed if the directory exists'),
  mode: FileMode.optional().describe('default 0755'),
});
export const FsMkdirResult = z.object({ path: z.string(), created: z.boolean() });

export const FsRemoveParams = z.strictObject({
  session_id: Session,
  path: FsPath,
  recursive: z.boolean().optional().describe('needed to remove a directory that is not empty; symlinks are removed, never followed'),
});
export const FsRemoveResult = z.object({ path: z.string(), removed: z.number().int().describe('files, links and directories removed') });

export const FsMoveParams = z.strictObject({
  session_id: Session,
  path: FsPath.describe('what to move (a symlink moves as a link)'),
  to: FsPath.describe('its new path (not a directory to move it into)'),
  overwrite: z.boolean().optional().describe('replace an existing file at `to`; default false: PATH_EXISTS'),
  make_parents: z.boolean().optional().describe('create the missing parents of `to`'),
});
export const FsMoveResult = z.object({ path: z.string(), to: z.string() });

export const FsWatchParams = z.strictObject({
  session_id: Session,
  path: FsPath.optional().describe('directory watched; default the session cwd'),
  recursive: z.boolean().optional().describe('also every directory below (not what .gitignore excludes, nor .git)'),
});
export const FsWatchOpened = z.object({ stream_id: z.string(), path: z.string() });
export const FsUnwatchParams = z.strictObject({ stream_id: z.string().min(1).max(128).describe('the stream fs.watch answered') });
export const FsUnwatchResult = z.object({ stream_id: z.string(), stopped: z.boolean().describe('false when the stream had already ended') });

/** Kinds of fs.watch `change` events. */
export const CHANGE_KINDS = ['create', 'write', 'remove', 'rename'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];
