/**
 * Issue 10: the daemon stays up, loses nothing and writes no secret down.
 * Each case is a failure found when trl was attacked and loaded: a SIGTERM
 * racing ephemeral sessions crashed it (an unhandled rejection); timers of
 * 2^31 ms or more fired at once; a NUL byte in a command and a bad
 * working_dir echoed secret values in errors; a core dump could hold every
 * secret; the host tier could not be switched off; a command that moved
 * itself out of its session's cgroup survived session.destroy; a terminal
 * could not be typed into without stdin_open.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { MAX_DURATION_S } from '../src/protocol/common.js';
import { newSecret } from './helpers/secrets.js';
import { connect, expectCode, waitForOutput } from './helpers/client.js';
import { makeTempDir, startDaemon } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { findSleeps, procAlive, uniqueSleep } from './helpers/processes.js';
import { waitFor } from './helpers/wait.js';

describe('daemon hardening', () => {
  const { d, c } = useDaemon();

  it('refuses durations past the longest timer, naming the maximum, and honours the maximum itself', async () => {
    const over = MAX_DURATION_S + 1;
    for (const [method, params] of [
      ['exec.run', { command: 'true', timeout_s: over }],
      ['exec.run', { command: 'true', idle_timeout_s: over }],
      ['exec.run', { command: 'true', yield_after_s: over }],
      ['session.create', { timeout_s: over }],
    ] as const) {
      const e = await expectCode(c, method, params, 'INVALID_PARAMS');
      assert.match(e.message, new RegExp(String(MAX_DURATION_S)), e.message);
    }
    // At the maximum, nothing fires early: the command runs to its own end.
    const s = await c.call('session.create', { timeout_s: MAX_DURATION_S });
    const r = await c.call('exec.run', { session_id: s.session_id, command: 'sleep 0.3; echo done', idle_timeout_s: MAX_DURATION_S, yield_after_s: MAX_DURATION_S });
    assert.equal(r.stdout, 'done\n');
    assert.equal(r.timed_out, false);
    assert.equal(r.running, false);
    await c.call('session.destroy', { session_id: s.session_id });
  });

  it('refuses a NUL byte in a command with INVALID_PARAMS, and echoes no secret in any error', async () => {
    const secret = newSecret('nulS3cret-');
    const e = await expectCode(c, 'exec.run', { command: `echo ${secret}\u0000x`, env: { API_TOKEN: secret } }, 'INVALID_PARAMS');
    assert.ok(!JSON.stringify(e).includes(secret), JSON.stringify(e));
    // A session variable that is secret by name, echoed back by a bad working_dir.
    const s = await c.call('session.create', { env: { DEPLOY_KEY: secret } });
    const u = await expectCode(c, 'session.update', { session_id: s.session_id, working_dir: `/nonexistent/${secret}` }, 'INVALID_PARAMS');
    assert.ok(!JSON.stringify(u).includes(secret), JSON.stringify(u));
    assert.match(u.message, /\[REDACTED\]/);
    // A command-level working_dir too.
    const w = await expectCode(c, 'exec.run', { session_id: s.session_id, command: 'true', working_dir: `/nope/${secret}` }, 'INVALID_PARAMS');
    assert.ok(!JSON.stringify(w).includes(secret), JSON.stringify(w));
    await c.call('session.destroy', { session_id: s.session_id });
    assert.ok(!d.logs().includes(secret), 'nor in the logs');
  });

  it('writes no core dump: core limit 0, soft and hard', () => {
    const limits = fs.readFileSync(`/proc/${d.pid}/limits`, 'utf8');
    assert.match(limits, /^Max core file size\s+0\s+0\s+bytes/m, limits);
  });

  it('runs its event loop ahead of busy commands (nice -5 as root), while commands, terminals and its other threads stay at nice 0', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('a nice below 0 needs root (CAP_SYS_NICE); the daemon then keeps 0');
    // Field 19 of a /proc stat line; the name in field 2 may hold spaces and parentheses, so count from its end.
    const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    assert.equal(niceOf(fs.readFileSync(`/proc/${d.pid}/task/${d.pid}/stat`, 'utf8')), -5, 'the event loop thread');
    const others = fs.readdirSync(`/proc/${d.pid}/task`).filter((tid) => tid !== String(d.pid));
    assert.ok(others.length > 0);
    for (const tid of others) assert.equal(niceOf(fs.readFileSync(`/proc/${d.pid}/task/${tid}/stat`, 'utf8')), 0, `thread ${tid}`);
    // The shell of a command and a program it starts; a terminal's shell; a background command's.
    const shell = await c.call('exec.run', { command: "cat /proc/$$/stat; sh -c 'cat /proc/$$/stat'" });
    const lines = shell.stdout.trim().split('\n');
    assert.equal(lines.length, 2, shell.stdout);
    for (const line of lines) assert.equal(niceOf(line), 0, line);
    const pty = await c.call('exec.run', { command: 'cat /proc/$$/stat', pty: { cols: 200, rows: 24 } });
    assert.equal(niceOf(pty.stdout.trim()), 0, pty.stdout);
    const bg = await c.call('exec.start', { command: 'cat /proc/$$/stat' });
    const done = await c.call('exec.wait', { command_id: bg.command_id, timeout_s: 30 });
    assert.equal(niceOf(done.stdout.trim()), 0, done.stdout);
  });

  it('lets a terminal be typed into without stdin_open', async () => {
    const r = await c.call('exec.start', { command: 'read line; echo "got:$line"', pty: { cols: 80, rows: 24 } });
    await c.call('exec.input', { command_id: r.command_id, data: 'typed\r' });
    await waitForOutput(c, r.command_id, 'got:typed');
    const info = await c.call('exec.wait', { command_id: r.command_id, timeout_s: 30 });
    assert.equal(info.exit_code, 0);
  });

  it('finds a host-tier process that moved itself out of its session cgroup, at session.destroy', async (t) => {
    const cgroupProcs = ['/sys/fs/cgroup/unified/cgroup.procs', '/sys/fs/cgroup/cgroup.procs', '/sys/fs/cgroup/pids/cgroup.procs'].filter((f) => {
      try {
        fs.accessSync(f, fs.constants.W_OK);
        return true;
      } catch {
        return false;
      }
    });
    const info: any = await c.call('system.info', {});
    if (!String(info.tiers.host.enforcement?.process_tracking ?? '').startsWith('cgroup') || cgroupProcs.length === 0) {
      return t.skip('no writable cgroup hierarchy here: sessions are tracked by tag alone');
    }
    const s = await c.call('session.create', {});
    const secs = uniqueSleep();
    const moves = cgroupProcs.map((f) => `echo $$ > ${f}`).join('; ');
    await c.call('exec.run', { session_id: s.session_id, command: `setsid sh -c '${moves}; exec sleep ${secs}' </dev/null >/dev/null 2>&1 &` });
    assert.ok(await waitFor(() => findSleeps(secs).length === 1), 'the escaped sleep runs');
    const pid = findSleeps(secs)[0]!;
    const own = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    assert.doesNotMatch(own, /\/trl\//, `it left every trl cgroup: ${own}`);
    await c.call('session.destroy', { session_id: s.session_id, force: true });
    assert.ok(await waitFor(() => !procAlive(pid)), 'session.destroy killed it anyway');
  });
});

describe('daemon lifecycle under abuse', () => {
  it('survives SIGTERM while ephemeral sessions end: no unhandled rejection, exit 0', async () => {
    for (let round = 0; round < 5; round++) {
      const d = await startDaemon();
      const c = await connect(d);
      const runs = Array.from({ length: 20 }, (_, i) => c.call('exec.run', { command: `sleep 0.0${i % 10}; sleep 30 & echo ${i}` }).catch(() => null));
      // Shut down while the ephemeral sessions of those commands are being destroyed.
      await Promise.race([Promise.all(runs), new Promise((r) => setTimeout(r, 20 * round))]);
      const code = await d.stop('SIGTERM');
      c.close();
      assert.equal(code, 0, `round ${round}: exit ${code}\n${d.stderr().slice(-2000)}`);
      assert.doesNotMatch(d.logs(), /unhandled|Unhandled|UnhandledPromiseRejection/);
      fs.rmSync(d.dir, { recursive: true, force: true });
    }
  });

  it('confines every client to isolated tiers when host is not offered', async (t) => {
    const ws = makeTempDir('/tmp/trl-nohost-ws-');
    if (process.getuid?.() === 0) fs.chownSync(ws, 1000, 1000);
    fs.chmodSync(ws, 0o755);
    const d = await startDaemon({ flags: ['--tiers', 'sandbox', '--default-working-dir', ws] });
    const c = await connect(d);
    try {
      const info: any = await c.call('system.info', {});
      if (!info.tiers.sandbox.available) {
        if (process.env.TRL_REQUIRE_TIERS === '1') assert.fail(info.tiers.sandbox.detail);
        return t.skip(`sandbox unavailable: ${info.tiers.sandbox.detail}`);
      }
      assert.equal(info.default_runtime, 'sandbox');
      assert.equal(info.tiers.host.available, false);
      const e = await expectCode(c, 'session.create', { runtime: 'host' }, 'RUNTIME_UNAVAILABLE');
      assert.match(e.message, /host/);
      // An ephemeral command goes to the sandbox.
      const r = await c.call('exec.run', { command: "grep -c '^Seccomp:.*2' /proc/self/status" });
      assert.equal(r.stdout, '1\n');
    } finally {
      c.close();
      await d.shutdownClean();
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('is not dumpable: another process of its user cannot read its memory or environment', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to start the daemon as another user and look at it as that user');
    const secret = newSecret('envS3cret-');
    const d = await startDaemon({ uid: 65534, allowRoot: false, env: { SOME_API_TOKEN: secret } });
    try {
      // /proc/PID/environ of a non-dumpable process belongs to root, whoever runs it.
      const st = fs.statSync(`/proc/${d.pid}/environ`);
      assert.equal(st.uid, 0, 'the daemon process is not dumpable');
      const { spawnSync } = await import('node:child_process');
      const peek = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', `/proc/${d.pid}/environ`], { encoding: 'utf8' });
      assert.notEqual(peek.status, 0, 'a process of the same user cannot read it');
      assert.ok(!peek.stdout.includes(secret));
    } finally {
      await d.dispose();
    }
  });
});

describe('trl serve --help', () => {
  it('names what each flag takes: <path> only for paths', async () => {
    const { runCli } = await import('./helpers/secrets.js');
    const r = await runCli(['serve', '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of ['--docker-image <image>', '--docker-user <user>', '--docker-network <network>', '--tiers <tiers>', '--workspace-roots <dirs>', '--isolated-user <uid[:gid]>']) {
      assert.ok(r.stdout.includes(flag), `${flag} in:\n${r.stdout}`);
    }
    for (const line of r.stdout.split('\n').filter((l) => l.includes('<path>'))) {
      assert.match(line, /--(socket-path|env-file|audit-log|audit-key-file|log-file|tls-cert|tls-key|default-shell|docker-shell) </, `not a path: ${line}`);
    }
  });
});
