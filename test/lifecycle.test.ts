/**
 * Sessions over their life, concurrency (pipelining, SESSION_BUSY, parallel
 * sessions), the application limits of docs/security.md, limits (each crossed), and the
 * daemon's own start-up and shutdown (docs/security.md, process trees, §5, §6).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { cgroupDirsNamed } from './helpers/cgroups.js';
import { connect, expectCode } from './helpers/client.js';
import { orphansAfterCrash, untilDecisive } from './helpers/crash-race.js';
import { canConnect, type Daemon, exitWithin, makeTempDir, startDaemon } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { assertSleepsGone, findSleeps, killSleeps, sleepTokens } from './helpers/processes.js';
import { rawConnect, type RawLine } from './helpers/raw-connection.js';
import { waitFor } from './helpers/wait.js';

const SESSION_KEYS = [
  'session_id',
  'name',
  'shell',
  'runtime',
  'state',
  'working_dir',
  'workspace',
  'env_keys',
  'created_at',
  'last_activity',
  'command_count',
  'running',
  'timeout_s',
  'limits',
  'secret_keys',
  'redact_output',
  'isolation',
  'usage',
].sort();

// The suites side by side (daemons and directories of their own; sleeps are unique), the tests of each one after the other.
describe('daemon lifecycle', { concurrency: true }, () => {
  describe('sessions and concurrency', { concurrency: 1 }, () => {
    let wd: string;
    const { token } = sleepTokens({ eachTest: true });

    const { d, c } = useDaemon(() => {
      wd = fs.realpathSync(makeTempDir('/tmp/trl-wd-'));
      return { flags: ['--kill-grace-s', '1', '--default-working-dir', wd, '--default-timeout-s', '2'] };
    });
    after(() => {
      if (wd) fs.rmSync(wd, { recursive: true, force: true });
    });

    it('system.ping, system.info and system.stats answer with their documented shapes', async () => {
      const ping = await c.call('system.ping', {});
      assert.deepEqual(Object.keys(ping).sort(), ['uptime_s', 'version']);
      assert.equal(ping.version, PROTOCOL_VERSION);
      // whole seconds since start: the daemon of this file is younger than this process
      assert.ok(Number.isInteger(ping.uptime_s) && ping.uptime_s >= 0 && ping.uptime_s <= Math.ceil(process.uptime()), `uptime_s ${ping.uptime_s}`);
      const info = await c.call('system.info', {});
      assert.equal(info.pid, d.pid);
      assert.equal(info.platform, 'linux');
      assert.equal(info.default_runtime, 'host');
      assert.equal(info.tiers['host']?.available, true);
      for (const [k, v] of Object.entries(info.limits)) assert.equal(typeof v, 'number', `limits.${k} is not a number`);
      const stats = await c.call('system.stats', {});
      for (const k of ['active_sessions', 'running_commands', 'total_commands_run', 'uptime_s', 'memory_rss_bytes', 'open_fds', 'zombie_children']) {
        assert.equal(typeof (stats as Record<string, unknown>)[k], 'number', `stats.${k}`);
      }
      assert.ok(stats.memory_rss_bytes > 1_000_000);
    });

    it('session.create returns the documented info and the defaults', async () => {
      const s = await c.call('session.create', {});
      assert.deepEqual(Object.keys(s).sort(), SESSION_KEYS);
      assert.match(s.session_id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
      assert.equal(s.name, null);
      assert.equal(s.shell, '/bin/sh');
      assert.equal(s.runtime, 'host');
      assert.equal(s.state, 'idle');
      assert.equal(s.working_dir, wd, '--default-working-dir is the cwd of new sessions');
      assert.equal(s.workspace, wd);
      assert.deepEqual(s.env_keys, []);
      assert.deepEqual(s.running, []);
      assert.equal(s.command_count, 0);
      assert.equal(s.timeout_s, 2, '--default-timeout-s is the session default');
      assert.ok(!Number.isNaN(Date.parse(s.created_at)), `created_at ${s.created_at}`);
      assert.ok(Math.abs(Date.parse(s.created_at) - Date.now()) < 60_000);
      // the clock must move past created_at for last_activity to be seen to advance
      await waitFor(() => Date.now() > Date.parse(s.created_at));
      await c.call('exec.run', { session_id: s.session_id, command: 'true' });
      const info = await c.call('session.info', { session_id: s.session_id });
      assert.equal(info.command_count, 1);
      assert.ok(Date.parse(info.last_activity) > Date.parse(s.created_at), 'last_activity did not advance');
      const list = await c.call('session.list', {});
      assert.ok(list.sessions.some((x) => x.session_id === s.session_id));
      const two = await c.call('session.create', {});
      assert.notEqual(two.session_id, s.session_id);
      for (const id of [s.session_id, two.session_id]) {
        const r = await c.call('session.destroy', { session_id: id });
        assert.deepEqual(r, { session_id: id, state: 'terminated', killed_processes: r.killed_processes });
      }
      assert.ok(!(await c.call('session.list', {})).sessions.some((x) => x.session_id === s.session_id));
    });

    it('an ephemeral exec.run (no session_id) uses the defaults and leaves no session behind', async () => {
      const before = (await c.call('session.list', {})).sessions.length;
      const r = await c.call('exec.run', { command: 'pwd; echo "$EPH"', env: { EPH: 'e' } });
      assert.equal(r.stdout, `${wd}\ne\n`);
      assert.equal(r.exit_code, 0);
      assert.equal((await c.call('session.list', {})).sessions.length, before);
      const stats = await c.call('system.stats', {});
      assert.equal(stats.active_sessions, before);
    });

    it('--default-timeout-s applies when neither the session nor the command sets one', async () => {
      const t0 = Date.now();
      const r = await c.call('exec.run', { command: 'echo x; sleep 6' });
      assert.equal(r.timed_out, true);
      assert.equal(r.stdout, 'x\n');
      const wall = Date.now() - t0;
      assert.ok(wall >= 1900, `timed out after ${wall} ms with a 2 s default timeout`);
    });

    it('pipelined requests on one connection each get their response, matched by id', async () => {
      const conn = await rawConnect(d.socketPath);
      conn.write(
        [
          JSON.stringify({ id: 'p-run', method: 'exec.run', params: { command: 'sleep 0.3; echo piped' } }),
          JSON.stringify({ id: 'p-ping', method: 'system.ping', params: {} }),
          JSON.stringify({ id: 'p-list', method: 'session.list' }),
        ].join('\n') + '\n',
      );
      const got: RawLine[] = [await conn.next(), await conn.next(), await conn.next()];
      const byId = new Map(got.map((r) => [r.id, r]));
      assert.deepEqual([...byId.keys()].sort(), ['p-list', 'p-ping', 'p-run']);
      assert.equal(byId.get('p-run')?.data?.stdout, 'piped\n');
      assert.equal(byId.get('p-ping')?.data?.version, PROTOCOL_VERSION);
      assert.ok(Array.isArray(byId.get('p-list')?.data?.sessions));
      conn.close();
    });

    it('a slow request does not hold up later requests on the same connection', async () => {
      const conn = await rawConnect(d.socketPath);
      conn.send({ id: 'slow', method: 'exec.run', params: { command: 'sleep 1; echo slow' } });
      conn.send({ id: 'fast', method: 'system.ping' });
      const first = await conn.next();
      assert.equal(first.id, 'fast', 'the ping waited for the 1 s command before it');
      const second = await conn.next();
      assert.equal(second.id, 'slow');
      conn.close();
    });

    it('a second exec.run on a busy session → SESSION_BUSY (from any connection); the first is unharmed', async () => {
      const s = await c.call('session.create', {});
      const gate = path.join(wd, `busy-${token()}`);
      // the first command runs until the test opens the gate: no timing decides whether it is still running
      const first = c.call('exec.run', { session_id: s.session_id, command: `while [ ! -e '${gate}' ]; do sleep 0.05; done; echo first`, timeout_s: 0 });
      assert.ok(await waitFor(async () => (await c.call('session.info', { session_id: s.session_id })).state === 'running'), 'the first command never ran');
      const e = await expectCode(c, 'exec.run', { session_id: s.session_id, command: 'echo second' }, 'SESSION_BUSY');
      assert.ok(e.message.includes(s.session_id) || /busy|running/i.test(e.message), e.message);
      const other = await connect(d);
      await expectCode(other, 'exec.run', { session_id: s.session_id, command: 'echo third' }, 'SESSION_BUSY');
      other.close();
      const info = await c.call('session.info', { session_id: s.session_id });
      assert.equal(info.state, 'running');
      assert.equal(info.running.length, 1);
      fs.writeFileSync(gate, '');
      const r = await first;
      assert.equal(r.stdout, 'first\n');
      assert.equal(info.running[0], r.command_id);
      const after = await c.call('session.info', { session_id: s.session_id });
      assert.equal(after.state, 'idle');
      assert.deepEqual(after.running, []);
      // free again
      assert.equal((await c.call('exec.run', { session_id: s.session_id, command: 'echo again' })).stdout, 'again\n');
      await c.call('session.destroy', { session_id: s.session_id });
    });

    it('two sessions run commands at the same time (each waits for the other to have started)', async () => {
      // A rendezvous instead of a stopwatch: each command finishes only once the other has started, so run
      // one after the other they would both time out.
      const rendezvous = (me: string, other: string) => `touch '${me}'; while [ ! -e '${other}' ]; do sleep 0.05; done; echo ok`;
      const marks = (k: string) => [path.join(wd, `${k}-a-${token()}`), path.join(wd, `${k}-b-${token()}`)] as const;
      const s1 = await c.call('session.create', {});
      const s2 = await c.call('session.create', {});
      const [a1, b1] = marks('sessions');
      const [a, b] = await Promise.all([
        c.call('exec.run', { session_id: s1.session_id, command: rendezvous(a1, b1), timeout_s: 60 }),
        c.call('exec.run', { session_id: s2.session_id, command: rendezvous(b1, a1), timeout_s: 60 }),
      ]);
      assert.deepEqual([a.stdout, a.timed_out, b.stdout, b.timed_out], ['ok\n', false, 'ok\n', false], 'the two commands did not run at the same time');
      // and from two connections
      const c2 = await connect(d);
      const [a2, b2] = marks('connections');
      const [x, y] = await Promise.all([
        c.call('exec.run', { session_id: s1.session_id, command: rendezvous(a2, b2), timeout_s: 60 }),
        c2.call('exec.run', { session_id: s2.session_id, command: rendezvous(b2, a2), timeout_s: 60 }),
      ]);
      assert.deepEqual([x.stdout, x.timed_out, y.stdout, y.timed_out], ['ok\n', false, 'ok\n', false], 'the two commands on two connections did not run at the same time');
      c2.close();
      await c.call('session.destroy', { session_id: s1.session_id });
      await c.call('session.destroy', { session_id: s2.session_id });
    });

    it('session.destroy during a running exec.run ends that command and kills its processes', async () => {
      const n = token();
      const s = await c.call('session.create', {});
      const running = c.call('exec.run', { session_id: s.session_id, command: `sleep ${n}`, timeout_s: 0 }).then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e }),
      );
      assert.ok(await waitFor(() => findSleeps(n).length === 1));
      const destroyed = await c.call('session.destroy', { session_id: s.session_id });
      assert.equal(destroyed.state, 'terminated');
      // the command was started with timeout_s 0: only the destroy can end it (a hang fails on the test's timeout)
      const settled = await running;
      if (settled.ok) assert.notEqual(settled.r.signal, null, 'the command reports no signal');
      await assertSleepsGone([n]);
      assert.ok(destroyed.killed_processes >= 1, `killed_processes = ${destroyed.killed_processes}, but the running command's sleep was killed`);
    });

    it('--kill-grace-s: a command that ignores SIGTERM is SIGKILLed after the grace', async () => {
      const n = token();
      const t0 = Date.now();
      const r = await c.call('exec.run', { command: `trap '' TERM; sleep ${n}`, timeout_s: 1 });
      const wall = Date.now() - t0;
      assert.equal(r.timed_out, true);
      assert.equal(r.signal, 'SIGKILL');
      assert.equal(r.exit_code, 137);
      assert.ok(wall >= 1900, `SIGKILLed after ${wall} ms, before timeout 1 s + grace 1 s`);
      await assertSleepsGone([n]);
    });

    it('session.destroy waits the grace for SIGTERM-ignoring processes; force: true does not', async () => {
      const slow = token();
      const fast = token();
      const s1 = await c.call('session.create', {});
      await c.call('exec.run', { session_id: s1.session_id, command: `trap '' TERM; setsid sleep ${slow} &` });
      assert.ok(await waitFor(() => findSleeps(slow).length === 1));
      const t0 = Date.now();
      await c.call('session.destroy', { session_id: s1.session_id });
      const graceful = Date.now() - t0;
      await assertSleepsGone([slow]);
      assert.ok(graceful >= 900, `non-forced destroy returned after ${graceful} ms, before the 1 s grace`);
      // force: a daemon whose grace (10 min) is far beyond the wait's deadline: the process is gone
      // within that deadline only if the forced destroy did not wait the grace
      const long = await startDaemon({ flags: ['--kill-grace-s', '600'] });
      const lc = await connect(long);
      try {
        const s2 = await lc.call('session.create', {});
        await lc.call('exec.run', { session_id: s2.session_id, command: `trap '' TERM; setsid sleep ${fast} &` });
        assert.ok(await waitFor(() => findSleeps(fast).length === 1));
        const forced = lc.call('session.destroy', { session_id: s2.session_id, force: true });
        assert.ok(await waitFor(() => findSleeps(fast).length === 0), 'force: true waited the grace: the SIGTERM-ignoring process is still alive');
        assert.equal((await forced).state, 'terminated');
      } finally {
        lc.close();
        await long.dispose();
      }
    });

    it('no zombies accumulate and the counters move', async () => {
      const before = await c.call('system.stats', {});
      for (let i = 0; i < 10; i++) await c.call('exec.run', { command: 'sleep 0.01 & true' });
      // a background child that exited a moment ago may not be reaped yet
      let after = await c.call('system.stats', {});
      await waitFor(async () => (after = await c.call('system.stats', {})).zombie_children === 0);
      assert.equal(after.zombie_children, 0);
      assert.ok(after.total_commands_run >= before.total_commands_run + 10);
      assert.equal(after.running_commands, 0);
    });
  });

  describe('limits (each crossed)', { concurrency: 1 }, () => {
    const { c } = useDaemon({
      flags: ['--max-sessions', '3', '--session-max-commands', '3', '--max-stdin-bytes', '1024', '--max-output-bytes', '4096'],
    });

    it('--max-sessions: the 4th live session → MAX_SESSIONS_REACHED; a freed slot can be reused', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await c.call('session.create', {})).session_id);
      const e = await expectCode(c, 'session.create', {}, 'MAX_SESSIONS_REACHED');
      assert.match(e.message, /3/);
      assert.equal((await c.call('session.list', {})).sessions.length, 3);
      await c.call('session.destroy', { session_id: ids.pop()! });
      ids.push((await c.call('session.create', {})).session_id);
      await expectCode(c, 'session.create', {}, 'MAX_SESSIONS_REACHED');
      for (const id of ids) await c.call('session.destroy', { session_id: id });
      assert.equal((await c.call('session.list', {})).sessions.length, 0);
    });

    it('--session-max-commands: the 4th command of a session → SESSION_LIMIT_EXCEEDED; the session survives', async () => {
      const s = await c.call('session.create', {});
      for (let i = 1; i <= 3; i++) {
        assert.equal((await c.call('exec.run', { session_id: s.session_id, command: `echo ${i}` })).stdout, `${i}\n`);
      }
      await expectCode(c, 'exec.run', { session_id: s.session_id, command: 'echo 4' }, 'SESSION_LIMIT_EXCEEDED');
      const info = await c.call('session.info', { session_id: s.session_id });
      assert.equal(info.command_count, 3);
      // other sessions are not affected
      assert.equal((await c.call('exec.run', { command: 'echo other' })).stdout, 'other\n');
      await c.call('session.destroy', { session_id: s.session_id });
    });

    it('--max-stdin-bytes: exactly the cap is accepted, one byte more is refused naming stdin', async () => {
      const ok = await c.call('exec.run', { command: 'wc -c', stdin: 'a'.repeat(1024) });
      assert.equal(ok.stdout.trim(), '1024');
      const e = await expectCode(c, 'exec.run', { command: 'wc -c', stdin: 'a'.repeat(1025) }, 'INVALID_PARAMS');
      assert.match(e.message, /stdin/);
      // counted in bytes, not characters
      await expectCode(c, 'exec.run', { command: 'wc -c', stdin: 'é'.repeat(513) }, 'INVALID_PARAMS');
      // the connection is still fine
      assert.equal((await c.call('system.ping', {})).version.length > 0, true);
    });

    it('--max-output-bytes is the default per-stream cap', async () => {
      // seq -w 1 1000: 1000 lines of 5 bytes = 5000 bytes per stream; 4096 kept of each
      const r = await c.call('exec.run', { command: 'seq -w 1 1000; seq -w 1 1000 >&2' });
      assert.equal(r.stdout_bytes, 5000);
      assert.equal(r.stderr_bytes, 5000);
      assert.equal(r.stdout_truncated_bytes, 5000 - 4096);
      assert.equal(r.stderr_truncated_bytes, 5000 - 4096);
      assert.ok(r.stdout.startsWith('0001\n0002\n'));
      assert.ok(r.stdout.endsWith('0999\n1000\n'));
      assert.ok(r.stderr.startsWith('0001\n0002\n'));
      assert.ok(r.stderr.endsWith('0999\n1000\n'));
    });
  });

  describe('daemon start-up and shutdown', { concurrency: 1 }, () => {
    const { token } = sleepTokens({ eachTest: true });

    it('refuses to run as root without --allow-root, saying how to fix it', async (t) => {
      if (process.getuid?.() !== 0) {
        t.skip('not running as root');
        return;
      }
      const d = await startDaemon({ allowRoot: false, noWait: true });
      const code = await exitWithin(d);
      if (code === 'timeout') await d.stop('SIGKILL');
      assert.notEqual(code, 'timeout', 'the daemon started as root without --allow-root');
      assert.notEqual(code, 0);
      assert.match(d.logs(), /--allow-root/);
      assert.equal(await canConnect(d.socketPath), false);
      await d.dispose();
    });

    it('refuses a bad setting, naming the flag', async () => {
      const d = await startDaemon({ flags: ['--max-sessions', '0'], noWait: true });
      const code = await exitWithin(d);
      if (code === 'timeout') await d.stop('SIGKILL');
      assert.notEqual(code, 'timeout');
      assert.notEqual(code, 0);
      assert.match(d.logs(), /--max-sessions/);
      await d.dispose();
    });

    it('SIGTERM while a command runs: the command is cancelled, the daemon exits 0, nothing is left', async () => {
      const n = token();
      const d = await startDaemon({ flags: ['--kill-grace-s', '1'] });
      const c = await connect(d);
      const s = await c.call('session.create', {});
      const running = c.call('exec.run', { session_id: s.session_id, command: `setsid sleep ${n} & sleep ${n}`, timeout_s: 0 }).then(
        () => 'answered',
        () => 'rejected',
      );
      assert.ok(await waitFor(() => findSleeps(n).length === 2));
      d.proc.kill('SIGTERM');
      const code = await exitWithin(d);
      assert.equal(code, 0, `exit code ${String(code)}; stderr tail:\n${d.stderr().slice(-1500)}`);
      assert.ok(['answered', 'rejected'].includes(await running));
      assert.equal(fs.existsSync(d.socketPath), false);
      await assertSleepsGone([n], 'after SIGTERM: ');
      c.close();
      await d.dispose();
    });

    it('while draining, new requests get SHUTTING_DOWN and new connections are refused', async () => {
      const n = token();
      const d = await startDaemon({ flags: ['--kill-grace-s', '3'] });
      const c = await connect(d);
      const s = await c.call('session.create', {});
      // a tree that ignores SIGTERM keeps the daemon draining for the whole grace
      await c.call('exec.run', { session_id: s.session_id, command: `trap '' TERM; sleep ${n} &` });
      assert.ok(await waitFor(() => findSleeps(n).length === 1));
      const t0 = Date.now();
      d.proc.kill('SIGTERM');
      // draining: the daemon stops accepting connections but waits the grace for the tree
      assert.ok(await waitFor(async () => d.hasExited() || !(await canConnect(d.socketPath))), 'the daemon kept accepting connections after SIGTERM');
      assert.equal(d.hasExited(), false, 'the daemon did not wait for the grace period');
      const e = await c.call('session.create', {}).then(
        () => null,
        (err: { code?: string }) => err,
      );
      assert.ok(e !== null, 'session.create succeeded during shutdown');
      assert.ok(e.code === 'SHUTTING_DOWN' || e.code === 'CONNECTION_CLOSED', `got ${e.code}`);
      assert.equal(await canConnect(d.socketPath), false, 'a new connection was accepted during shutdown');
      const code = await exitWithin(d);
      assert.equal(code, 0);
      assert.ok(Date.now() - t0 >= 2500, `the daemon exited ${Date.now() - t0} ms after SIGTERM, before the 3 s grace`);
      await assertSleepsGone([n], 'after the drain: ');
      assert.equal(fs.existsSync(d.socketPath), false);
      c.close();
      await d.dispose();
    });

    it('SIGINT shuts down like SIGTERM', async () => {
      const d = await startDaemon();
      const code = await d.stop('SIGINT');
      assert.equal(code, 0);
      assert.equal(fs.existsSync(d.socketPath), false);
      await d.dispose();
    });

    for (const mode of [
      { name: 'cgroups', flags: [] as string[] },
      { name: '--cgroups off', flags: ['--cgroups', 'off'] },
    ]) {
      it(`after a crash (SIGKILL), the next daemon replaces the stale socket and reaps the orphans (${mode.name})`, async () => {
        await untilDecisive('crash and successor', async () => {
          const n = token();
          const dir = makeTempDir();
          let first: Daemon | undefined;
          try {
            first = await startDaemon({ dir, flags: mode.flags });
            const c = await connect(first);
            const instance = (await c.call('system.info', {})).instance_id;
            const s = await c.call('session.create', {});
            await c.call('exec.run', { session_id: s.session_id, command: `setsid sleep ${n} & (sleep ${n} &) & echo ok` });
            assert.ok(await waitFor(() => findSleeps(n).length === 2));
            const orphans = findSleeps(n);
            // Checked before the kill: once the daemon is dead, any daemon another test starts may reap it.
            if (mode.flags.length === 0) assert.ok(cgroupDirsNamed(instance).length > 0, `no cgroup directory named after instance ${instance}`);
            c.close();
            await first.stop('SIGKILL');
            if ((await orphansAfterCrash(orphans)) === 'reaped') return 'raced';
            assert.ok(fs.existsSync(first.socketPath), 'expected a stale socket after SIGKILL');
            const second = await startDaemon({ dir, flags: mode.flags });
            try {
              await assertSleepsGone([n], "the new daemon did not reap its dead predecessor's processes: ");
              const left = await waitFor(() => cgroupDirsNamed(instance).length === 0);
              assert.ok(left, `the dead predecessor's cgroups were not removed: ${cgroupDirsNamed(instance).join(', ')}`);
              const c2 = await connect(second);
              assert.equal((await c2.call('session.list', {})).sessions.length, 0);
              c2.close();
              return 'decisive';
            } finally {
              assert.equal(await second.stop(), 0);
            }
          } finally {
            await first?.stop('SIGKILL');
            killSleeps([n]);
            fs.rmSync(dir, { recursive: true, force: true });
          }
        });
      });
    }
  });
});
