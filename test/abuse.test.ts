/**
 * Hostile workloads (docs/security.md, limits: reject or kill the offending unit, never the
 * daemon): a fork bomb is contained by its session's pid limit while other
 * clients keep being served; an endless output flood keeps the daemon's memory
 * flat; too many running commands, too many open fds or too much daemon
 * memory turn new work away with RESOURCE_PRESSURE.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { cgroupSkip, readFileOrNull, sessionCgroupDirs } from './helpers/cgroups.js';
import { anyCall, connect, expectCode, type TrlClient } from './helpers/client.js';
import { makeTempDir, startDaemon } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { peakRssBytes, resetPeakRss } from './helpers/memory.js';
import { startPingMonitor } from './helpers/ping-monitor.js';
import { sessionTagOf, taggedProcs } from './helpers/process-tags.js';
import { fdCount, findSleeps, killPids, sleepTokens } from './helpers/processes.js';
import { rawConnect, type RawConnection } from './helpers/raw-connection.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

const MIB = 1024 * 1024;
const DEFAULT_OUTPUT_CAP = 4 * MIB;

describe('a fork bomb in a session with limits.pids 64', { skip: cgroupSkip('a pid limit that binds root') }, () => {
  const { d, c } = useDaemon({ flags: ['--kill-grace-s', '1'] });
  let stopFile: string;
  let prefix = '';
  before(async () => {
    // Not in the daemon's directory: the fixture's own after hook may have removed that already.
    stopFile = path.join(makeTempDir(), 'stop-the-bomb');
  });
  after(async () => {
    // whatever happened, defuse: the bomb stops forking once this file exists
    // (the fixture may already have removed the daemon's directory, and with it the session's processes)
    if (stopFile && fs.existsSync(path.dirname(stopFile))) fs.writeFileSync(stopFile, '');
    if (prefix) {
      await waitFor(() => {
        killPids(taggedProcs(prefix));
        return taggedProcs(prefix).length === 0;
      });
    }
  });

  it('is contained, other clients are answered throughout, destroy leaves nothing, the daemon returns to its size', async () => {
    const instance = (await anyCall(c, 'system.info')).instance_id;
    // warm the daemon up so that the baseline is its working size
    const warm = await anyCall(c, 'session.create', {});
    for (let i = 0; i < 50; i++) await anyCall(c, 'exec.run', { session_id: warm.session_id, command: 'echo warm' });
    await anyCall(c, 'session.destroy', { session_id: warm.session_id });
    const base = await anyCall(c, 'system.stats');

    // bash, not dash: dash exits at the first failed fork, so a dash bomb burns out by itself in
    // milliseconds; bash retries failed forks, so its bomb keeps pressing against the limit
    const s = await anyCall(c, 'session.create', { limits: { pids: 64 }, shell: '/bin/bash' });
    const tag = await sessionTagOf(c, s.session_id);
    assert.equal(tag.instance, instance, '__TRL_TAG names another instance than system.info');
    prefix = tag.prefix;
    const pidsDir = sessionCgroupDirs(instance, tag.session).find((dir) => fs.existsSync(path.join(dir, 'pids.max')));
    assert.ok(pidsDir, 'the session has no cgroup with a pids controller');
    assert.equal(readFileOrNull(path.join(pidsDir, 'pids.max')), '64');

    const monitor = await startPingMonitor(d.socketPath, 100);
    // the bomb: bounded by a stop file that the test creates at the very end (a safety net, not the containment)
    const bomb = `:(){ [ -e '${stopFile}' ] && return; :|:& };:`;
    const st = await anyCall(c, 'exec.start', { session_id: s.session_id, command: bomb, timeout_s: 30 });
    assert.ok(st.command_id);
    let maxCurrent = 0;
    // the bomb presses against the limit (the kernel refused forks), while other clients' pings keep being answered
    const refused = () => /max [1-9]/.test(readFileOrNull(path.join(pidsDir, 'pids.events')) ?? '');
    const answeredBefore = monitor.answered();
    const pressing = await waitFor(
      () => {
        maxCurrent = Math.max(maxCurrent, Number(readFileOrNull(path.join(pidsDir, 'pids.current')) ?? 0));
        return refused() && maxCurrent >= 32 && monitor.answered() >= answeredBefore + 10;
      },
      DEADLINE_MS,
      50,
    );
    const fullAt = taggedProcs(tag.prefix).length;
    assert.ok(
      pressing,
      `the bomb never hit the limit while pings were answered (pids.events: ${readFileOrNull(path.join(pidsDir, 'pids.events'))}, ${monitor.answered() - answeredBefore} pings answered)`,
    );
    assert.ok(fullAt >= 16, `only ${fullAt} processes of the bomb are alive: it burnt out by itself, so destroy is not tested`);
    const events = readFileOrNull(path.join(pidsDir, 'pids.events'));
    const destroyed = await anyCall(c, 'session.destroy', { session_id: s.session_id, force: true });
    const report = await monitor.stop();

    assert.ok(maxCurrent <= 64, `pids.current reached ${maxCurrent} under pids.max 64`);
    assert.ok(maxCurrent >= 32, `the bomb never got going (pids.current peaked at ${maxCurrent}), so nothing was tested`);
    if (events !== null) assert.match(events, /max [1-9]/, `pids.events shows no refused fork: ${events}`);
    assert.ok(fullAt <= 64, `${fullAt} processes carry the session's tag under pids 64`);
    assert.ok(destroyed.killed_processes >= 1, `killed_processes = ${destroyed.killed_processes}`);

    assert.deepEqual(report.errors, [], 'ping errors');
    assert.deepEqual(report.outstanding, [], 'pings never answered');
    assert.equal(report.answered, report.sent, 'every ping sent during the bomb is answered');
    // a figure for the log, not a bound: the test's own timer is starved on a loaded machine
    console.log(`# pings during the bomb: ${report.answered}, slowest ${Math.round(report.maxMs)} ms`);

    const gone = await waitFor(() => taggedProcs(tag.prefix).length === 0);
    assert.ok(gone, `processes of the destroyed session are still alive: ${taggedProcs(tag.prefix).join(', ')}`);
    assert.deepEqual(sessionCgroupDirs(instance, tag.session), [], "the session's cgroups outlived session.destroy");

    let now = await anyCall(c, 'system.stats');
    await waitFor(
      async () => {
        now = await anyCall(c, 'system.stats');
        return now.memory_rss_bytes <= base.memory_rss_bytes + 20 * MIB && now.open_fds <= base.open_fds + 16;
      },
      DEADLINE_MS,
      250,
    );
    assert.ok(now.memory_rss_bytes <= base.memory_rss_bytes + 20 * MIB, `daemon RSS ${now.memory_rss_bytes} vs ${base.memory_rss_bytes} before the bomb`);
    assert.ok(now.open_fds <= base.open_fds + 16, `daemon fds ${now.open_fds} vs ${base.open_fds} before the bomb`);
    assert.equal(now.active_sessions, base.active_sessions);
    assert.equal(now.running_commands, 0);

    // the daemon still works
    const after = await anyCall(c, 'exec.run', { command: 'echo after' });
    assert.equal(after.stdout, 'after\n');
  });
});

describe('an output flood: 256 MiB of `yes` (64 times the default output cap)', () => {
  const { d, c } = useDaemon();
  const FLOOD = 256 * MIB;

  it('keeps the daemon under 200 MB RSS, and the result keeps head and tail with exact truncation counts', async () => {
    const s = await anyCall(c, 'session.create', {});
    // the kernel's peak RSS of the daemon (VmHWM) over the flood: nothing is missed between samples
    resetPeakRss(d.pid);
    const r = await anyCall(c, 'exec.run', { session_id: s.session_id, command: `yes | head -c ${FLOOD}`, timeout_s: 0 });
    const peak = peakRssBytes(d.pid);
    assert.ok(peak !== null && peak < 200 * 1000 * 1000, `the daemon's peak RSS reached ${peak} bytes during the flood`);
    assert.equal(r.exit_code, 0, `the flood failed: ${JSON.stringify({ ...r, stdout: r.stdout.length })}`);
    assert.equal(r.timed_out, false);
    assert.equal(r.stdout_bytes, FLOOD, 'stdout_bytes counts every byte of the flood');
    assert.equal(r.stdout_truncated_bytes, r.stdout_bytes - DEFAULT_OUTPUT_CAP, 'stdout_truncated_bytes = stdout_bytes - cap');
    const marker = /\n\[trl: (\d+) bytes of output left out here[^\]\n]*\]\n/.exec(r.stdout);
    assert.ok(marker, 'the cut is marked in the text');
    assert.equal(marker.index, DEFAULT_OUTPUT_CAP / 2, 'the mark sits where the head ends');
    assert.equal(Number(marker[1]), r.stdout_truncated_bytes, 'the mark names the bytes left out');
    const head = r.stdout.slice(0, marker.index);
    const tail = r.stdout.slice(marker.index + marker[0].length);
    assert.equal(head.length + tail.length, DEFAULT_OUTPUT_CAP, 'head + tail = the cap');
    assert.match(head, /^(y\n)+$/, 'the head is the first bytes of the stream');
    assert.match(tail, /^\n?(y\n)*y?$/, 'the tail is a run of y\\n');
    assert.ok(tail.endsWith('\n') || tail.endsWith('y'));
    assert.equal(r.stderr, '');
    const stats = await anyCall(c, 'system.stats');
    assert.ok(stats.memory_rss_bytes < 200 * 1000 * 1000, `RSS after: ${stats.memory_rss_bytes}`);
    await anyCall(c, 'session.destroy', { session_id: s.session_id });
  });
});

describe('RESOURCE_PRESSURE: running commands', () => {
  const { token } = sleepTokens();

  it('--max-running-commands 2: two exec.start run, a third exec.* is refused naming the setting, room comes back', async () => {
    const d = await startDaemon({ flags: ['--max-running-commands', '2', '--kill-grace-s', '1'] });
    const c = await connect(d);
    try {
      const s1 = await anyCall(c, 'session.create', {});
      const s2 = await anyCall(c, 'session.create', {});
      const [a, b] = [token(), token()];
      const ca = await anyCall(c, 'exec.start', { session_id: s1.session_id, command: `sleep ${a}` });
      await anyCall(c, 'exec.start', { session_id: s2.session_id, command: `sleep ${b}` });
      const sessionsBefore = (await anyCall(c, 'system.stats')).active_sessions;
      for (const [method, params] of [
        ['exec.start', { session_id: s1.session_id, command: 'echo refused' }],
        ['exec.start', { session_id: s2.session_id, command: 'echo refused' }],
        ['exec.run', { session_id: s2.session_id, command: 'echo refused' }],
        ['exec.stream', { session_id: s1.session_id, command: 'echo refused' }],
        ['exec.run', { command: 'echo refused' }],
      ] as const) {
        const e = await expectCode(c, method, params, 'RESOURCE_PRESSURE');
        assert.match(e.message, /max[_-]running[_-]commands/, `${method}: the message does not name the setting: ${e.message}`);
      }
      const stats = await anyCall(c, 'system.stats');
      assert.equal(stats.running_commands, 2);
      assert.equal(stats.active_sessions, sessionsBefore, 'a refused ephemeral exec.run left a session behind');
      // the refusals did not count as commands of the sessions
      assert.equal((await anyCall(c, 'session.info', { session_id: s1.session_id })).running.length, 1);
      await anyCall(c, 'exec.cancel', { command_id: ca.command_id });
      await anyCall(c, 'exec.wait', { command_id: ca.command_id, timeout_s: 10 });
      const ok = await anyCall(c, 'exec.run', { session_id: s1.session_id, command: 'echo room' });
      assert.equal(ok.stdout, 'room\n');
      for (const s of [s1, s2]) await anyCall(c, 'session.destroy', { session_id: s.session_id, force: true });
      assert.equal(findSleeps(b).length, 0);
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });

  it('--max-session-running 2: a third command in one session is refused naming the setting; other sessions are not affected', async () => {
    const d = await startDaemon({ flags: ['--max-session-running', '2', '--kill-grace-s', '1'] });
    const c = await connect(d);
    try {
      const s1 = await anyCall(c, 'session.create', {});
      const s2 = await anyCall(c, 'session.create', {});
      const first = await anyCall(c, 'exec.start', { session_id: s1.session_id, command: `sleep ${token()}` });
      await anyCall(c, 'exec.start', { session_id: s1.session_id, command: `sleep ${token()}` });
      for (const method of ['exec.start', 'exec.run', 'exec.stream'] as const) {
        const e = await expectCode(c, method, { session_id: s1.session_id, command: 'echo refused' }, 'RESOURCE_PRESSURE');
        assert.match(e.message, /max[_-]session[_-]running/, `${method}: the message does not name the setting: ${e.message}`);
      }
      // another session has its own allowance
      const other = await anyCall(c, 'exec.start', { session_id: s2.session_id, command: `sleep ${token()}` });
      const other2 = await anyCall(c, 'exec.run', { session_id: s2.session_id, command: 'echo other' });
      assert.equal(other2.stdout, 'other\n');
      await anyCall(c, 'exec.cancel', { command_id: other.command_id });
      // one ends: room again in s1
      await anyCall(c, 'exec.cancel', { command_id: first.command_id });
      await anyCall(c, 'exec.wait', { command_id: first.command_id, timeout_s: 10 });
      const ok = await anyCall(c, 'exec.run', { session_id: s1.session_id, command: 'echo room' });
      assert.equal(ok.stdout, 'room\n');
      for (const s of [s1, s2]) await anyCall(c, 'session.destroy', { session_id: s.session_id, force: true });
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });

  it('starts pipelined on one connection pass neither limit together: a start under way counts as running', async () => {
    const d = await startDaemon({ flags: ['--max-session-running', '2', '--max-running-commands', '3', '--kill-grace-s', '1'] });
    const c = await connect(d);
    try {
      const outcomes = async (session_id: string, n: number, withDir: boolean) => {
        const tokens = Array.from({ length: n }, () => token());
        const settled = await Promise.allSettled(tokens.map((t) => c.call('exec.start', { session_id, command: `sleep ${t}`, ...(withDir ? { working_dir: '/tmp' } : {}) })));
        for (const r of settled) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'RESOURCE_PRESSURE', String(r.reason));
        return settled.filter((r) => r.status === 'fulfilled').length;
      };
      const s1 = await anyCall(c, 'session.create', {});
      assert.equal(await outcomes(s1.session_id, 6, false), 2, 'max_session_running 2, six starts at once');
      const s2 = await anyCall(c, 'session.create', {});
      // A working_dir is checked by the tier first (an await): the limits are checked again after it.
      assert.equal(await outcomes(s2.session_id, 4, true), 1, 'max_running_commands 3 with 2 running, four starts at once');
      assert.equal((await anyCall(c, 'system.stats')).running_commands, 3);
      for (const s of [s1, s2]) await anyCall(c, 'session.destroy', { session_id: s.session_id, force: true });
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });
});

describe('RESOURCE_PRESSURE: the daemon protects itself', () => {
  it("new sessions are refused while the daemon's open fds pass 90% of its RLIMIT_NOFILE, and accepted again after", async () => {
    const LIMIT = 128;
    const d = await startDaemon({ prelude: `ulimit -n ${LIMIT}` });
    const conns: RawConnection[] = [];
    let c: TrlClient | undefined;
    try {
      c = await connect(d.socketPath);
      const s = await anyCall(c, 'session.create', {});
      const stats0 = await anyCall(c, 'system.stats');
      // hold connections open until the daemon's fds pass 90% of the limit
      const needed = Math.ceil(LIMIT * 0.9) - stats0.open_fds + 3;
      for (let i = 0; i < needed; i++) conns.push(await rawConnect(d.socketPath));
      await waitFor(() => (fdCount(d.pid) ?? 0) > LIMIT * 0.9);
      const fds = fdCount(d.pid)!;
      assert.ok(fds > LIMIT * 0.9 && fds < LIMIT, `the daemon holds ${fds} fds (limit ${LIMIT}); the setup is off`);
      const e = await expectCode(c, 'session.create', {}, 'RESOURCE_PRESSURE');
      assert.match(e.message, /descriptor|fds?\b|nofile/i, `the message does not say what is short: ${e.message}`);
      // the daemon still answers, and existing sessions still work
      assert.equal((await anyCall(c, 'system.ping')).version, PROTOCOL_VERSION);
      const r = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'echo still' });
      assert.equal(r.stdout, 'still\n');
      for (const x of conns.splice(0)) x.close();
      const back = await waitFor(
        async () => {
          try {
            const s2 = await anyCall(c!, 'session.create', {});
            await anyCall(c!, 'session.destroy', { session_id: s2.session_id });
            return true;
          } catch {
            return false;
          }
        },
        DEADLINE_MS,
        100,
      );
      assert.ok(back, 'session.create is still refused after the connections closed');
      assert.equal(d.hasExited(), false);
    } finally {
      for (const x of conns) x.close();
      c?.close();
      await d.stop();
    }
  });

  it("new sessions are refused while the daemon's RSS passes --max-daemon-rss-bytes", async () => {
    const d = await startDaemon({ flags: ['--max-daemon-rss-bytes', String(MIB)] });
    const c = await connect(d);
    try {
      const e = await expectCode(c, 'session.create', {}, 'RESOURCE_PRESSURE');
      assert.match(e.message, /max[_-]daemon[_-]rss[_-]bytes|memory|RSS/i, `the message does not say what is short: ${e.message}`);
      assert.equal((await anyCall(c, 'session.list')).sessions.length, 0);
      assert.equal((await anyCall(c, 'system.ping')).version, PROTOCOL_VERSION);
    } finally {
      c.close();
      await d.shutdownClean();
    }
    // and a generous setting lets them through
    const d2 = await startDaemon({ flags: ['--max-daemon-rss-bytes', String(2 * 1024 * MIB)] });
    const c2 = await connect(d2);
    try {
      const s = await anyCall(c2, 'session.create', {});
      await anyCall(c2, 'session.destroy', { session_id: s.session_id });
    } finally {
      c2.close();
      await d2.shutdownClean();
    }
  });
});
