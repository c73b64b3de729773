/**
 * Issue 13, the files API (PROTOCOL §7) as a client sees it, the same on
 * every tier: reads by lines and bytes, atomic writes, exact edits with
 * preconditions, bounded listings and searches, and the audit log.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode } from './helpers/client.js';
import { makeTempDir } from './helpers/daemon.js';
import { removeWorkspace, startTierDaemon, tierWorkspace, TIER_NAMES, WORKSPACE_UID, type TierDaemon } from './helpers/tiers.js';

// The tiers side by side (each has a daemon and directories of its own), the tests of a tier one after the other.
describe('files API on every tier', { concurrency: true }, () => {
  for (const tier of TIER_NAMES) {
    describe(`files API: ${tier} tier`, { concurrency: 1 }, () => {
      let t: TierDaemon;
      let ws: string;
      let sid: string;
      let auditDir: string;
      const auditFile = () => path.join(auditDir, 'audit.log');

      before(async () => {
        auditDir = makeTempDir();
        // Walks are bounded in time (fs_timeout_s); on a loaded machine the bound must not cut these ones short.
        t = await startTierDaemon(tier, { flags: ['--audit-log', auditFile(), '--fs-timeout-s', '300'] });
        if (!t.client) return;
        ws = tierWorkspace();
        sid = ((await t.client.call('session.create', { workspace: ws, working_dir: ws })) as any).session_id;
      });
      after(async () => {
        await t?.close();
        if (ws) removeWorkspace(ws);
        fs.rmSync(auditDir, { recursive: true, force: true });
      });

      const call = (method: string, params: Record<string, unknown>): Promise<any> => t.client!.call(method, { session_id: sid, ...params });
      const err = (method: string, params: Record<string, unknown>, code: string) => expectCode(t.client!, method, { session_id: sid, ...params }, code);
      /** A file written from the host side, owned by the workspace user. */
      const put = (rel: string, content: string | Buffer, mode = 0o644) => {
        const p = path.join(ws, rel);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, content, { mode });
        fs.chmodSync(p, mode);
        if (process.getuid?.() === 0) fs.chownSync(p, WORKSPACE_UID, WORKSPACE_UID);
        for (let d = path.dirname(p); d.startsWith(ws) && d !== ws; d = path.dirname(d)) if (process.getuid?.() === 0) fs.chownSync(d, WORKSPACE_UID, WORKSPACE_UID);
      };

      it('reads by lines: a window of numbered range, the total, long lines clipped with a marker', async (ctx) => {
        if (t.skip(ctx)) return;
        const lines = Array.from({ length: 2500 }, (_, i) => `line ${i + 1}`);
        lines[9] = 'x'.repeat(2100);
        put('read/long.txt', lines.join('\n') + '\n');
        const first = await call('fs.read', { path: 'read/long.txt' });
        assert.equal(first.total_lines, 2500);
        assert.equal(first.lines, 2000, 'the default window is 2,000 lines');
        assert.equal(first.truncated, true);
        assert.equal(first.eof, false);
        assert.equal(first.clipped_lines, 1);
        assert.match(first.content.split('\n')[9], /^x{2000} \[… 100 more characters clipped\]$/);
        assert.match(first.sha256, /^[0-9a-f]{64}$/);
        const window = await call('fs.read', { path: path.join(ws, 'read/long.txt'), line_offset: 2497, line_limit: 10 });
        assert.equal(window.content, 'line 2498\nline 2499\nline 2500\n');
        assert.equal(window.eof, true);
        assert.equal(window.lines, 3);
      });

      it('refuses a binary file as text and reads it as base64 bytes, by range', async (ctx) => {
        if (t.skip(ctx)) return;
        const bin = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0xff, 0xfe]);
        put('read/blob.bin', bin);
        const e = await err('fs.read', { path: 'read/blob.bin' }, 'INVALID_PARAMS');
        assert.match(e.message, /binary.*base64/);
        const all = await call('fs.read', { path: 'read/blob.bin', encoding: 'base64' });
        assert.deepEqual(Buffer.from(all.content, 'base64'), bin);
        assert.equal(all.eof, true);
        const part = await call('fs.read', { path: 'read/blob.bin', encoding: 'base64', offset: 4, length: 3 });
        assert.deepEqual(Buffer.from(part.content, 'base64'), bin.subarray(4, 7));
        assert.equal(part.eof, false);
        assert.equal(part.size, bin.length);
        await err('fs.read', { path: 'read' }, 'NOT_A_FILE');
        await err('fs.read', { path: 'read/none' }, 'PATH_NOT_FOUND');
      });

      it('writes atomically: PATH_EXISTS without overwrite, mode kept on overwrite, parents made on request, no temporary file left', async (ctx) => {
        if (t.skip(ctx)) return;
        const w = await call('fs.write', { path: 'w/new.sh', content: '#!/bin/sh\necho hi\n', mode: '0750', make_parents: true });
        assert.equal(w.created, true);
        assert.equal(w.mode, '0750');
        assert.equal(fs.readFileSync(path.join(ws, 'w/new.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
        assert.equal(fs.statSync(path.join(ws, 'w/new.sh')).mode & 0o777, 0o750);
        const e = await err('fs.write', { path: 'w/new.sh', content: 'clobbered' }, 'PATH_EXISTS');
        assert.match(e.message, /overwrite/);
        const o = await call('fs.write', { path: 'w/new.sh', content: 'echo bye\n', overwrite: true, mode: '0600' });
        assert.equal(o.created, false);
        assert.equal(o.mode, '0750', 'an existing file keeps its mode');
        assert.equal(fs.statSync(path.join(ws, 'w/new.sh')).mode & 0o777, 0o750);
        await err('fs.write', { path: 'w/deep/er/x', content: 'x' }, 'PATH_NOT_FOUND');
        const b = await call('fs.write', { path: 'w/b64', content: Buffer.from([0, 1, 2]).toString('base64'), encoding: 'base64' });
        assert.equal(b.size, 3);
        await err('fs.write', { path: 'w/stale', content: 'x', expect_hash: '0'.repeat(64) }, 'FILE_CHANGED');
        const h = await call('fs.write', { path: 'w/new.sh', content: 'v2\n', overwrite: true, expect_hash: o.sha256 });
        await err('fs.write', { path: 'w/new.sh', content: 'v3\n', overwrite: true, expect_hash: o.sha256 }, 'FILE_CHANGED');
        assert.equal(fs.readFileSync(path.join(ws, 'w/new.sh'), 'utf8'), 'v2\n');
        assert.notEqual(h.sha256, o.sha256);
        assert.deepEqual(
          fs.readdirSync(path.join(ws, 'w')).filter((n) => n.includes('trl-write')),
          [],
          'no temporary file is left behind',
        );
      });

      it('edits: a non-unique old is refused naming the count, a stale precondition is refused, CRLF and the mode are kept, dry_run diffs', async (ctx) => {
        if (t.skip(ctx)) return;
        put('e/win.txt', 'alpha\r\nbeta\r\nbeta\r\ngamma\r\n', 0o640);
        const read = await call('fs.read', { path: 'e/win.txt' });
        const many = await err('fs.edit', { path: 'e/win.txt', edits: [{ old: 'beta', new: 'BETA' }] }, 'INVALID_PARAMS');
        assert.match(many.message, /occurs 2 times/);
        assert.equal((many.details as any).count, 2);
        const missing = await err('fs.edit', { path: 'e/win.txt', edits: [{ old: 'delta', new: 'D' }] }, 'INVALID_PARAMS');
        assert.match(missing.message, /does not occur/);
        const dry = await call('fs.edit', { path: 'e/win.txt', edits: [{ old: 'alpha\nbeta\n', new: 'ALPHA\nbeta\n' }], dry_run: true });
        assert.equal(dry.dry_run, true);
        assert.match(dry.diff, /^--- a.*\n\+\+\+ b.*\n@@ -1,4 \+1,4 @@\n-alpha\r\n\+ALPHA\r\n/);
        assert.equal(fs.readFileSync(path.join(ws, 'e/win.txt'), 'utf8'), 'alpha\r\nbeta\r\nbeta\r\ngamma\r\n', 'a dry run changes nothing');
        const done = await call('fs.edit', {
          path: 'e/win.txt',
          edits: [
            { old: 'alpha\nbeta\n', new: 'ALPHA\nbeta\nnew line\n' },
            { old: 'gamma', new: 'GAMMA' },
          ],
          expect_hash: read.sha256,
        });
        assert.deepEqual(done.replacements, [1, 1]);
        assert.equal(done.line_ending, 'crlf');
        assert.equal(fs.readFileSync(path.join(ws, 'e/win.txt'), 'utf8'), 'ALPHA\r\nbeta\r\nnew line\r\nbeta\r\nGAMMA\r\n', 'CRLF files stay CRLF');
        assert.equal(fs.statSync(path.join(ws, 'e/win.txt')).mode & 0o777, 0o640, 'the mode is kept');
        const stale = await err('fs.edit', { path: 'e/win.txt', edits: [{ old: 'GAMMA', new: 'G' }], expect_hash: read.sha256 }, 'FILE_CHANGED');
        assert.match(stale.message, /changed since it was read/);
        const staleTime = await err('fs.edit', { path: 'e/win.txt', edits: [{ old: 'GAMMA', new: 'G' }], expect_mtime: read.mtime.replace(/\d{4}/, '1999') }, 'FILE_CHANGED');
        assert.match(staleTime.message, /mtime/);
        assert.match(fs.readFileSync(path.join(ws, 'e/win.txt'), 'utf8'), /GAMMA/, 'a refused edit changes nothing');
        const all = await call('fs.edit', { path: 'e/win.txt', edits: [{ old: 'beta', new: 'b', replace_all: true }] });
        assert.deepEqual(all.replacements, [2]);
      });

      it('lists, searches and greps: .gitignore respected unless no_ignore, paging with totals, limits clamped to 1,000', async (ctx) => {
        if (t.skip(ctx)) return;
        put('tree/.gitignore', 'build/\n*.log\n');
        put('tree/src/a.ts', 'export const a = 1;\n// TODO one\n');
        put('tree/src/b.ts', 'export const b = 2;\n');
        put('tree/src/deep/c.ts', '// TODO two\n');
        put('tree/build/out.ts', '// TODO ignored\n');
        put('tree/debug.log', 'TODO ignored\n');
        put('tree/.git/HEAD', 'ref: TODO\n');
        for (let i = 0; i < 1205; i++) put(`tree/many/f${String(i).padStart(4, '0')}.txt`, i % 2 ? 'odd\n' : 'even\n');
        const top = await call('fs.list', { path: 'tree' });
        assert.deepEqual(
          top.entries.map((e: any) => e.name),
          ['.gitignore', 'many', 'src'],
        );
        assert.equal(top.total, 3);
        assert.equal(top.ignored, 3, 'build/, debug.log and .git are left out');
        const all = await call('fs.list', { path: 'tree', no_ignore: true });
        assert.deepEqual(
          all.entries.map((e: any) => e.name),
          ['.git', '.gitignore', 'build', 'debug.log', 'many', 'src'],
        );
        const page = await call('fs.list', { path: 'tree/many' });
        assert.equal(page.entries.length, 100, '100 entries by default');
        assert.equal(page.total, 1205);
        assert.equal(page.next_offset, 100);
        assert.equal(page.truncated, true);
        const big = await call('fs.list', { path: 'tree/many', limit: 5000, offset: 200 });
        assert.equal(big.entries.length, 1000, 'a larger limit is clamped to 1,000');
        assert.equal(big.entries[0].name, 'f0200.txt');
        assert.equal(big.next_offset, 1200);
        const last = await call('fs.list', { path: 'tree/many', offset: 1200 });
        assert.equal(last.entries.length, 5);
        assert.equal(last.next_offset, null);
        const rec = await call('fs.list', { path: 'tree/src', recursive: true });
        assert.deepEqual(
          rec.entries.map((e: any) => `${e.type}:${e.name}`),
          ['file:a.ts', 'file:b.ts', 'dir:deep', 'file:deep/c.ts'],
        );
        const found = await call('fs.search', { path: 'tree', pattern: '*.ts' });
        assert.deepEqual(
          found.matches.map((m: any) => m.name),
          ['src/a.ts', 'src/b.ts', 'src/deep/c.ts'],
        );
        const foundAll = await call('fs.search', { path: 'tree', pattern: '**/*.ts', no_ignore: true });
        assert.equal(foundAll.total, 4);
        const grep = await call('fs.grep', { path: 'tree', pattern: 'TODO \\w+' });
        assert.deepEqual(
          grep.matches.map((m: any) => `${path.relative(ws, m.path)}:${m.line}:${m.text}`),
          ['tree/src/a.ts:2:// TODO one', 'tree/src/deep/c.ts:1:// TODO two'],
        );
        assert.equal(grep.total, 2);
        const grepAll = await call('fs.grep', { path: 'tree', pattern: 'todo', case_insensitive: true, no_ignore: true, glob: '*.{ts,log}' });
        assert.equal(grepAll.total, 4);
        const paged = await call('fs.grep', { path: 'tree/many', pattern: 'odd', limit: 10, offset: 590 });
        assert.equal(paged.total, 602);
        assert.equal(paged.matches.length, 10);
        assert.equal(paged.next_offset, 600);
        const literal = await call('fs.grep', { path: 'tree/src', pattern: 'a = 1;', literal: true });
        assert.equal(literal.total, 1);
        await err('fs.grep', { path: 'tree', pattern: '(unclosed' }, 'INVALID_PARAMS');
        await err('fs.list', { path: 'tree/src/a.ts' }, 'NOT_A_DIRECTORY');
      });

      it('stat (a symlink itself with follow: false), mkdir, move and remove — a symlink is removed, never followed', async (ctx) => {
        if (t.skip(ctx)) return;
        put('m/file.txt', 'content\n');
        fs.symlinkSync('file.txt', path.join(ws, 'm/link'));
        const st = await call('fs.stat', { path: 'm/link' });
        assert.equal(st.type, 'file');
        assert.equal(st.size, 8);
        assert.match(st.sha256, /^[0-9a-f]{64}$/);
        const lst = await call('fs.stat', { path: 'm/link', follow: false });
        assert.equal(lst.type, 'symlink');
        assert.equal(lst.symlink_target, 'file.txt');
        assert.equal((await call('fs.mkdir', { path: 'm/d1/d2', parents: true })).created, true);
        assert.equal((await call('fs.mkdir', { path: 'm/d1/d2', parents: true })).created, false);
        await err('fs.mkdir', { path: 'm/d1/d2' }, 'PATH_EXISTS');
        await err('fs.mkdir', { path: 'm/x/y' }, 'PATH_NOT_FOUND');
        await call('fs.move', { path: 'm/file.txt', to: 'm/d1/moved.txt' });
        assert.equal(fs.readFileSync(path.join(ws, 'm/d1/moved.txt'), 'utf8'), 'content\n');
        put('m/other.txt', 'other\n');
        await err('fs.move', { path: 'm/other.txt', to: 'm/d1/moved.txt' }, 'PATH_EXISTS');
        await call('fs.move', { path: 'm/other.txt', to: 'm/d1/moved.txt', overwrite: true });
        assert.equal(fs.readFileSync(path.join(ws, 'm/d1/moved.txt'), 'utf8'), 'other\n');
        fs.symlinkSync('d1', path.join(ws, 'm/dirlink'));
        assert.equal((await call('fs.remove', { path: 'm/dirlink', recursive: true })).removed, 1);
        assert.ok(fs.existsSync(path.join(ws, 'm/d1/moved.txt')), 'removing a link to a directory leaves the directory');
        await err('fs.remove', { path: 'm/d1' }, 'INVALID_PARAMS');
        assert.equal((await call('fs.remove', { path: 'm/d1', recursive: true })).removed, 3);
        assert.ok(!fs.existsSync(path.join(ws, 'm/d1')));
        await err('fs.remove', { path: '.' }, 'INVALID_PARAMS');
      });

      it('goes to the audit log: path, size and hash of every write, edit, move and remove, never the content', async (ctx) => {
        if (t.skip(ctx)) return;
        const secret = 'content-that-must-not-be-logged-7f3a';
        const w = await call('fs.write', { path: 'audit/a.txt', content: `${secret}\n`, make_parents: true });
        await call('fs.edit', { path: 'audit/a.txt', edits: [{ old: secret, new: `${secret}-2` }] });
        await call('fs.move', { path: 'audit/a.txt', to: 'audit/b.txt' });
        await call('fs.remove', { path: 'audit/b.txt' });
        const lines = fs
          .readFileSync(auditFile(), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const mine = lines.filter((l) => l.session_id === sid && typeof l.method === 'string' && l.method.startsWith('fs.'));
        const write = mine.find((l) => l.method === 'fs.write' && l.path.endsWith('audit/a.txt'));
        assert.ok(write, 'the write is logged');
        assert.equal(write.sha256, w.sha256);
        assert.equal(write.size, w.size);
        assert.equal(write.tier, tier);
        assert.ok(mine.some((l) => l.method === 'fs.edit' && l.path.endsWith('audit/a.txt') && /^[0-9a-f]{64}$/.test(l.sha256)));
        assert.ok(mine.some((l) => l.method === 'fs.move' && l.to.endsWith('audit/b.txt')));
        assert.ok(mine.some((l) => l.method === 'fs.remove' && l.path.endsWith('audit/b.txt')));
        assert.ok(!fs.readFileSync(auditFile(), 'utf8').includes(secret), 'no content reaches the audit log');
      });
    });
  }
});
