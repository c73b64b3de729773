import { createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { AnyTrlClient } from '../client/connect.js';
import type { TrlHttpClient } from '../client/http-client.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { resolveSession } from './refs.js';
import { EXIT } from './exit-codes.js';
import { formatTable, printJson, warn } from './output.js';
import { readAllStdin } from './read-stdin.js';
import { writeBytes } from './write-bytes.js';

interface FsOptions extends ClientOptions {
  session: string;
}

/** What one fs.write over JSON may carry (base64 of it must fit a request line). */
const JSON_WRITE_MAX = 10 * 1024 * 1024;

const HELP_AFTER = `
Paths are relative to the session's cwd, or absolute, and must be inside its
workspace (symlinks included). put and get move whole files: over HTTP (--url)
as raw bytes of any size (PUT/GET /v1/files), over the Unix socket through
fs.write (up to 10 MiB) and fs.read (any size, in pieces).

Examples:
  trl fs ls -s "$S" -r src
  trl fs cat -s "$S" README.md --lines 1:40
  trl fs grep -s "$S" 'TODO|FIXME' --glob '*.ts'
  trl fs edit -s "$S" src/a.ts --old 'let x = 1' --new 'const x = 1'
  trl fs put -s "$S" ./build.tar.gz dist/build.tar.gz --overwrite
  trl fs get -s "$S" out/report.pdf ./report.pdf`;

/** `trl fs cat|ls|grep|edit|put|get`: the files API of a session (PROTOCOL §7). */
export function registerFsCommand(program: Command): void {
  const fs = program.command('fs').description("read, list, search and change files in a session's workspace").addHelpText('after', HELP_AFTER);
  const sub = (name: string, description: string) =>
    addClientOptions(fs.command(name).description(description).requiredOption('-s, --session <session>', 'the session whose workspace is used: name, id, or unique id prefix'));

  sub('cat', 'print a file (text by lines, or bytes with --bytes)')
    .argument('<path>')
    .option('--lines <from:to>', 'only these lines (1-based, inclusive; `40:` to the end, `:20` the first 20)')
    .option('--bytes', 'raw bytes (any file, binary included) instead of text')
    .action((path: string, o: FsOptions & { lines?: string; bytes?: boolean }) =>
      runWithClient(o, async (c) => {
        o.session = await resolveSession(c, o.session);
        if (o.bytes) return void (await copyOut(c, o.session, path, process.stdout));
        const range = lineRange(o.lines);
        const r = await c.call('fs.read', { session_id: o.session, path, ...range });
        if (o.json) return printJson(r);
        await writeBytes(process.stdout, Buffer.from(r.content, 'utf8'));
        if (r.truncated && o.lines === undefined) warn(`showing lines ${r.line_offset! + 1}-${r.line_offset! + r.lines!} of ${r.total_lines} (--lines for others)`);
      }),
    );

  sub('ls', 'list a directory (or its tree with -r); .gitignore respected unless --all')
    .argument('[path]', 'default: the session cwd')
    .option('-r, --recursive', 'the whole tree')
    .option('-a, --all', 'include what .gitignore excludes')
    .option('--limit <n>', 'entries at most (default 100, at most 1000)', Number)
    .option('--offset <n>', 'skip this many', Number)
    .action((path: string | undefined, o: FsOptions & { recursive?: boolean; all?: boolean; limit?: number; offset?: number }) =>
      runWithClient(o, async (c) => {
        o.session = await resolveSession(c, o.session);
        const r = await c.call('fs.list', { session_id: o.session, path, recursive: o.recursive, no_ignore: o.all, limit: o.limit, offset: o.offset });
        if (o.json) return printJson(r);
        process.stdout.write(
          formatTable([
            ['TYPE', 'SIZE', 'MODIFIED', 'NAME'],
            ...r.entries.map((e) => [e.type, String(e.size), e.mtime.slice(0, 19).replace('T', ' '), e.symlink_target ? `${e.name} -> ${e.symlink_target}` : e.name]),
          ]),
        );
        pageNote(r);
      }),
    );

  sub('grep', 'lines matching a regular expression (JavaScript syntax) under a path')
    .argument('<pattern>')
    .argument('[path]', 'file or directory (default: the session cwd)')
    .option('-g, --glob <glob>', 'only files matching this glob')
    .option('-i, --ignore-case')
    .option('-F, --fixed-strings', 'the pattern is plain text')
    .option('-a, --all', 'include what .gitignore excludes')
    .option('--limit <n>', 'matches at most (default 100, at most 1000)', Number)
    .option('--offset <n>', 'skip this many', Number)
    .action((pattern: string, path: string | undefined, o: FsOptions & { glob?: string; ignoreCase?: boolean; fixedStrings?: boolean; all?: boolean; limit?: number; offset?: number }) =>
      runWithClient(o, async (c) => {
        o.session = await resolveSession(c, o.session);
        const r = await c.call('fs.grep', {
          session_id: o.session,
          pattern,
          path,
          glob: o.glob,
          case_insensitive: o.ignoreCase,
          literal: o.fixedStrings,
          no_ignore: o.all,
          limit: o.limit,
          offset: o.offset,
        });
        if (o.json) return printJson(r);
        for (const m of r.matches) process.stdout.write(`${m.path}:${m.line}:${m.text}\n`);
        pageNote(r);
        return r.matches.length > 0 ? EXIT.OK : EXIT.FAILURE;
      }),
    );

  sub('edit', 'replace exact text in a file (once, unless --all); --dry-run shows the diff')
    .argument('<path>')
    .requiredOption('--old <text>', 'the exact text to replace (must occur once unless --all)')
    .requiredOption('--new <text>', 'its replacement')
    .option('--all', 'replace every occurrence')
    .option('--expect-hash <sha256>', 'refuse if the file changed since it had this hash')
    .option('-n, --dry-run', 'change nothing; print the unified diff')
    .action((path: string, o: FsOptions & { old: string; new: string; all?: boolean; expectHash?: string; dryRun?: boolean }) =>
      runWithClient(o, async (c) => {
        o.session = await resolveSession(c, o.session);
        const r = await c.call('fs.edit', { session_id: o.session, path, edits: [{ old: o.old, new: o.new, replace_all: o.all }], expect_hash: o.expectHash, dry_run: o.dryRun });
        if (o.json) return printJson(r);
        if (r.diff !== null) process.stdout.write(r.diff);
        else process.stderr.write(`trl: ${r.path}: ${r.replacements.reduce((a, b) => a + b, 0)} replaced\n`);
      }),
    );

  sub('put', 'upload a local file (- for stdin) as a whole file of the workspace, atomically')
    .argument('<local>')
    .argument('<path>')
    .option('--overwrite', 'replace an existing file (keeping its mode)')
    .option('--mode <octal>', 'mode of a new file, e.g. 0755')
    .option('-p, --parents', 'create missing parent directories')
    .action((local: string, path: string, o: FsOptions & { overwrite?: boolean; mode?: string; parents?: boolean }) =>
      runWithClient(o, async (c) => {
        o.session = await resolveSession(c, o.session);
        const params = { session_id: o.session, path, overwrite: o.overwrite, mode: o.mode, make_parents: o.parents };
        let r;
        if (isHttp(c) && local !== '-') r = await c.upload(params, createReadStream(local), statSync(local).size);
        else {
          const data = local === '-' ? await readAllStdin() : readFileSync(local);
          if (isHttp(c)) r = await c.upload(params, data);
          else {
            if (data.length > JSON_WRITE_MAX) throw new Error(`${local} is ${data.length} bytes: over the Unix socket put takes at most ${JSON_WRITE_MAX}; use --url (HTTP) for large files`);
            r = await c.call('fs.write', { ...params, content: data.toString('base64'), encoding: 'base64' });
          }
        }
        if (o.json) return printJson(r);
        process.stderr.write(`trl: wrote ${r.path} (${r.size} bytes, sha256 ${r.sha256.slice(0, 12)}…)\n`);
      }),
    );

  sub('get', 'download a file of the workspace to a local file (- for stdout)')
    .argument('<path>')
    .argument('[local]', 'default: stdout')
    .action((path: string, local: string | undefined, o: FsOptions) =>
      runWithClient(o, async (c) => {
        o.session = await resolveSession(c, o.session);
        const out = local === undefined || local === '-' ? process.stdout : createWriteStream(local);
        await copyOut(c, o.session, path, out);
      }),
    );
}

function isHttp(c: AnyTrlClient): c is TrlHttpClient {
  return typeof (c as Partial<TrlHttpClient>).upload === 'function';
}

/** A file's bytes to `out`: one GET over HTTP, else fs.read in pieces of base64. */
async function copyOut(c: AnyTrlClient, session_id: string, path: string, out: NodeJS.WritableStream): Promise<void> {
  if (isHttp(c)) {
    const d = await c.download({ session_id, path });
    await pipeline(d.stream, out);
    return;
  }
  for (let offset = 0; ;) {
    const r = await c.call('fs.read', { session_id, path, offset, encoding: 'base64' });
    const bytes = Buffer.from(r.content, 'base64');
    await new Promise<void>((resolve, reject) => out.write(bytes, (err) => (err ? reject(err) : resolve())));
    offset += bytes.length;
    if (r.eof || bytes.length === 0) break;
  }
  if (out !== process.stdout) await new Promise<void>((resolve) => out.end(resolve));
}

/** `--lines 10:20` → line_offset 9, line_limit 11. */
function lineRange(spec: string | undefined): { line_offset?: number; line_limit?: number } {
  if (spec === undefined) return {};
  const m = /^(\d*):(\d*)$/.exec(spec) ?? /^(\d+)$/.exec(spec);
  if (!m) throw new Error(`--lines ${spec}: give FROM:TO (1-based), e.g. 1:40, 40: or :20`);
  const from = m[1] ? Number(m[1]) : 1;
  const to = m[2] !== undefined && m[2] !== '' ? Number(m[2]) : m[2] === undefined ? from : undefined;
  return { line_offset: Math.max(0, from - 1), ...(to !== undefined ? { line_limit: Math.max(1, to - from + 1) } : {}) };
}

function pageNote(r: { total: number | null; next_offset: number | null; timed_out: boolean; ignored: number }): void {
  if (r.timed_out) warn('the walk hit its time bound: results are partial');
  if (r.next_offset !== null) warn(`more results: --offset ${r.next_offset}${r.total !== null ? ` (${r.total} in all)` : ''}`);
}
