/**
 * PROTOCOL §6 background commands and driving a running command: exec.start
 * beside the foreground slot, exec.list / exec.info, exec.wait, exec.input,
 * exec.signal, exec.cancel (grace then SIGKILL; the session survives) and
 * exec.run's yield_after_s.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as path from 'node:path';
import { connect, expectCode, waitForOutput } from './helpers/client.js';
import { makeTempDir } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { assertSleepsGone, findSleeps, procAlive, sleepTokens } from './helpers/processes.js';
import { waitFor } from './helpers/wait.js';

const INFO_KEYS = [
  'command_id',
  'session_id',
  'state',
  'command',
  'pid',
  'pty',
  'background',
  'started_at',
  'ended_at',
  'duration_ms',
  'exit_code',
  'signal',
  'timed_out',
  'stdout_bytes',
  'stderr_bytes',
  'stdin_open',
];

type Info = Record<string, unknown>;

function assertInfoShape(i: Info): void {
  const missing = INFO_KEYS.filter((k) => !(k in i));
  assert.deepEqual(missing, [], `exec.info lacks ${missing.join(', ')}: ${JSON.stringify(i)}`);
  assert.ok(!('stdout' in i) && !('stderr' in i), 'exec.info must not carry the output');
  assert.ok(['running', 'exited', 'killed', 'timed_out'].includes(i['state'] as string), `state ${String(i['state'])}`);
  assert.ok(!Number.isNaN(Date.parse(i['started_at'] as string)), `started_at ${String(i['started_at'])} is not a date`);
}

describe('background commands and driving them', () => {
  let sid: string;
  let wd: string;
  const { token } = sleepTokens();
  let gates = 0;
  /** A file a command waits for: the command ends when the test creates it, not after a guessed time. */
  const gatePath = () => path.join(wd, `gate-${++gates}`);

  const { d, c } = useDaemon(() => {
    wd = fs.realpathSync(makeTempDir('/tmp/trl-wd-'));
    return { flags: ['--kill-grace-s', '1', '--default-working-dir', wd] };
  });
  before(async () => {
    sid = (await c.call('session.create', {})).session_id;
  });
  after(() => {
    fs.rmSync(wd, { recursive: true, force: true });
  });

  const info = async (command_id: string) => (await c.call('exec.info', { command_id })) as unknown as Info;

  it('exec.start returns {command_id, pid} at once; exec.info and exec.list describe it while running and after', async () => {
    // the command ends only when the test opens its gate: an exec.start that waited for it would hang
    const gate = gatePath();
    const s = await c.call('exec.start', { session_id: sid, command: `echo started; echo warn >&2; while [ ! -e '${gate}' ]; do sleep 0.05; done; exit 5` });
    const startReturnedAt = Date.now();
    assert.deepEqual(Object.keys(s).sort(), ['command_id', 'pid']);
    assert.equal(typeof s.command_id, 'string');
    assert.ok(Number.isInteger(s.pid) && s.pid > 1);
    assert.ok(procAlive(s.pid), 'the returned pid is not a live process');

    const running = await info(s.command_id);
    assertInfoShape(running);
    assert.equal(running['command_id'], s.command_id);
    assert.equal(running['session_id'], sid);
    assert.equal(running['state'], 'running');
    assert.equal(running['pid'], s.pid);
    assert.equal(running['background'], true);
    assert.equal(running['pty'], false);
    assert.equal(running['stdin_open'], false);
    assert.equal(running['ended_at'], null);
    assert.equal(running['exit_code'], null);
    assert.match(String(running['command']), /echo started/);

    const listed = (await c.call('exec.list', { session_id: sid })).commands as unknown as Info[];
    const mine = listed.find((x) => x['command_id'] === s.command_id);
    assert.ok(mine, 'exec.list does not show the running command');
    assertInfoShape(mine);
    assert.equal(mine['state'], 'running');

    const gateOpenedAt = Date.now();
    fs.writeFileSync(gate, '');
    const w = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 10 });
    assert.equal(w.stdout, 'started\n');
    assert.equal(w.stderr, 'warn\n');
    assert.equal(w.exit_code, 5);
    assert.equal(w.running, false);
    assert.equal(w.command_id, s.command_id);

    const done = await info(s.command_id);
    assertInfoShape(done);
    assert.equal(done['state'], 'exited');
    assert.equal(done['exit_code'], 5);
    assert.equal(done['signal'], null);
    assert.equal(done['timed_out'], false);
    assert.equal(done['stdout_bytes'], 8);
    assert.equal(done['stderr_bytes'], 5);
    assert.equal(typeof done['duration_ms'], 'number');
    // it ran from before exec.start returned until after the gate opened
    assert.ok((done['duration_ms'] as number) >= gateOpenedAt - startReturnedAt, `duration_ms ${String(done['duration_ms'])}`);
    assert.ok(!Number.isNaN(Date.parse(done['ended_at'] as string)), 'ended_at is not a date');
    assert.ok(!procAlive(s.pid), 'the process is still alive after it ended');
  });

  it('exec.list shows foreground commands too (background: false) and rejects an unknown session', async () => {
    const r = await c.call('exec.run', { session_id: sid, command: 'echo fg' });
    const listed = (await c.call('exec.list', { session_id: sid })).commands as unknown as Info[];
    const mine = listed.find((x) => x['command_id'] === r.command_id);
    assert.ok(mine, 'exec.list does not show the finished exec.run');
    assert.equal(mine['background'], false);
    assert.equal(mine['state'], 'exited');
    assert.equal(mine['exit_code'], 0);
    assert.equal(mine['stdout_bytes'], 3);
    await expectCode(c, 'exec.list', { session_id: '00000000-0000-4000-8000-000000000000' }, 'SESSION_NOT_FOUND');
  });

  it('background commands run beside a foreground exec.run in the same session', async () => {
    // the background commands end only when the test opens the gate: a foreground run that waited for them would hang
    const gate = gatePath();
    const bgs = await Promise.all([1, 2, 3].map((i) => c.call('exec.start', { session_id: sid, command: `while [ ! -e '${gate}' ]; do sleep 0.05; done; echo bg${i}` })));
    const fg = await c.call('exec.run', { session_id: sid, command: 'echo fg' });
    assert.equal(fg.stdout, 'fg\n');
    for (const b of bgs) assert.equal((await info(b.command_id))['state'], 'running');
    // a foreground exec.stream may run beside them too
    const open = await c.stream('exec.stream', { session_id: sid, command: 'echo streamed' });
    for await (const ev of open.events) if (ev.event === 'exit') break;
    fs.writeFileSync(gate, '');
    const results = await Promise.all(bgs.map((b) => c.call('exec.wait', { command_id: b.command_id, timeout_s: 10 })));
    assert.deepEqual(
      results.map((r) => r.stdout),
      ['bg1\n', 'bg2\n', 'bg3\n'],
    );
  });

  it('exec.start never changes the session state (cwd, env)', async () => {
    const s = await c.call('exec.start', { session_id: sid, command: 'cd / && export FROM_BG=1' });
    await c.call('exec.wait', { command_id: s.command_id, timeout_s: 10 });
    const r = await c.call('exec.run', { session_id: sid, command: 'pwd; echo "[${FROM_BG:-}]"' });
    assert.equal(r.stdout, `${wd}\n[]\n`);
  });

  it('exec.input feeds an open stdin: read x; echo got:$x → got:hi; eof lets cat finish', async () => {
    const s = await c.call('exec.start', { session_id: sid, command: 'read x; echo got:$x', stdin_open: true });
    assert.equal((await info(s.command_id))['stdin_open'], true);
    const w1 = await c.call('exec.input', { command_id: s.command_id, data: 'hi\n' });
    assert.deepEqual(w1, { command_id: s.command_id, bytes_written: 3, stdin_open: true });
    const r = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 10 });
    assert.equal(r.stdout, 'got:hi\n');
    assert.equal(r.exit_code, 0);

    const cat = await c.call('exec.start', { session_id: sid, command: 'cat; echo "[end]"', stdin_open: true });
    await c.call('exec.input', { command_id: cat.command_id, data: 'one ' });
    await c.call('exec.input', { command_id: cat.command_id, data: Buffer.from([0xe2, 0x82, 0xac, 0x0a]).toString('base64'), encoding: 'base64' });
    // cat echoed what it was given, and waits for more: it ends only when its stdin is closed
    await waitForOutput(c, cat.command_id, 'one €\n');
    assert.equal((await info(cat.command_id))['state'], 'running', 'cat ended before its stdin was closed');
    const closed = await c.call('exec.input', { command_id: cat.command_id, eof: true });
    assert.equal(closed.stdin_open, false);
    assert.equal(closed.bytes_written, 0);
    const cr = await c.call('exec.wait', { command_id: cat.command_id, timeout_s: 10 });
    assert.equal(cr.stdout, 'one €\n[end]\n');
    assert.equal(cr.exit_code, 0);
    assert.equal((await info(cat.command_id))['stdin_open'], false);
  });

  it('exec.input with data and eof together writes then closes', async () => {
    const s = await c.call('exec.start', { session_id: sid, command: 'wc -c', stdin_open: true });
    const w = await c.call('exec.input', { command_id: s.command_id, data: 'abcde', eof: true });
    assert.equal(w.bytes_written, 5);
    assert.equal(w.stdin_open, false);
    const r = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 10 });
    assert.equal(r.stdout.trim(), '5');
  });

  it('exec.input without stdin_open, after eof, or after the end → INVALID_PARAMS', async () => {
    const n = token();
    const s = await c.call('exec.start', { session_id: sid, command: `sleep ${n}` });
    await expectCode(c, 'exec.input', { command_id: s.command_id, data: 'x' }, 'INVALID_PARAMS');
    await c.call('exec.cancel', { command_id: s.command_id });

    const o = await c.call('exec.start', { session_id: sid, command: 'cat >/dev/null; sleep 0.3', stdin_open: true });
    await c.call('exec.input', { command_id: o.command_id, eof: true });
    await expectCode(c, 'exec.input', { command_id: o.command_id, data: 'late' }, 'INVALID_PARAMS');
    await c.call('exec.wait', { command_id: o.command_id, timeout_s: 10 });
    await expectCode(c, 'exec.input', { command_id: o.command_id, data: 'later' }, 'INVALID_PARAMS');
    await expectCode(c, 'exec.input', { command_id: 'no-such-command-0000', data: 'x' }, 'COMMAND_NOT_FOUND');
  });

  it('exec.signal SIGINT reaches a trap in the command', async () => {
    const s = await c.call('exec.start', { session_id: sid, command: "trap 'echo caught; exit 7' INT; echo ready; while :; do sleep 0.05; done" });
    const ready = await c.call('exec.output', { command_id: s.command_id, wait_ms: 5000 });
    assert.equal(ready.data, 'ready\n');
    const sig = await c.call('exec.signal', { command_id: s.command_id, signal: 'SIGINT' });
    assert.equal(sig.command_id, s.command_id);
    assert.equal(sig.signal, 'SIGINT');
    assert.ok(sig.delivered >= 1, `delivered ${sig.delivered}`);
    const r = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 10 });
    assert.equal(r.stdout, 'ready\ncaught\n');
    assert.equal(r.exit_code, 7);
    assert.equal((await info(s.command_id))['state'], 'exited');
  });

  it('exec.signal reaches the whole tree: background children, a setsid child and the foreground child', async () => {
    const [a, b, f] = [token(), token(), token()];
    const s = await c.call('exec.start', { session_id: sid, command: `sleep ${a} & setsid sleep ${b} & sleep ${f}; echo not-reached` });
    assert.ok(await waitFor(() => [a, b, f].every((x) => findSleeps(x).length > 0)), 'the sleeps did not start');
    const sig = await c.call('exec.signal', { command_id: s.command_id, signal: 'SIGTERM' });
    assert.ok(sig.delivered >= 1);
    await assertSleepsGone([a, b, f], 'after exec.signal SIGTERM: ');
    const r = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 10 });
    assert.equal(r.stdout, '');
    assert.equal(r.signal, 'SIGTERM');
  });

  it('exec.signal to a finished or unknown command', async () => {
    const r = await c.call('exec.run', { session_id: sid, command: 'true' });
    // nothing to deliver to: either an error or delivered 0, never a signal to a recycled pid
    try {
      const s = await c.call('exec.signal', { command_id: r.command_id, signal: 'SIGTERM' });
      assert.equal(s.delivered, 0);
    } catch (e) {
      assert.ok(['INVALID_PARAMS', 'COMMAND_NOT_FOUND'].includes((e as { code: string }).code), String(e));
    }
    await expectCode(c, 'exec.signal', { command_id: 'no-such-command-0000', signal: 'SIGINT' }, 'COMMAND_NOT_FOUND');
    const n = token();
    const live = await c.call('exec.start', { session_id: sid, command: `sleep ${n}` });
    await expectCode(c, 'exec.signal', { command_id: live.command_id, signal: 'SIGNOPE' }, 'INVALID_PARAMS');
    await c.call('exec.cancel', { command_id: live.command_id });
    await c.call('exec.wait', { command_id: live.command_id, timeout_s: 10 });
  });

  it('exec.cancel: a command that exits on SIGTERM ends at once (signal SIGTERM)', async () => {
    const n = token();
    const s = await c.call('exec.start', { session_id: sid, command: `sleep ${n}` });
    await waitFor(() => findSleeps(n).length > 0);
    const res = await c.call('exec.cancel', { command_id: s.command_id });
    assert.deepEqual(res.cancelled, [s.command_id]);
    const r = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 10 });
    // ended by the SIGTERM itself, not by a SIGKILL after the grace
    assert.equal(r.signal, 'SIGTERM');
    assert.equal(r.exit_code, 143);
    assert.equal((await info(s.command_id))['state'], 'killed');
    await assertSleepsGone([n]);
  });

  it('exec.cancel kills a tree that ignores SIGTERM after the grace (--kill-grace-s 1); the session runs the next command', async () => {
    const n1 = token();
    const n2 = token();
    const s = await c.call('exec.start', { session_id: sid, command: `trap '' TERM; sleep ${n1} & echo ready; sleep ${n2}; echo survived` });
    const ready = await c.call('exec.output', { command_id: s.command_id, wait_ms: 5000 });
    assert.equal(ready.data, 'ready\n');
    assert.ok(await waitFor(() => findSleeps(n1).length > 0 && findSleeps(n2).length > 0), 'the sleeps did not start');
    const t0 = Date.now();
    const res = await c.call('exec.cancel', { command_id: s.command_id });
    assert.deepEqual(res.cancelled, [s.command_id]);
    const r = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 15 });
    const took = Date.now() - t0;
    assert.ok(took >= 800, `ended after ${took} ms: SIGKILL came before the 1 s grace`);
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(r.exit_code, 137);
    assert.equal(r.stdout, 'ready\n');
    assert.equal((await info(s.command_id))['state'], 'killed');
    await assertSleepsGone([n1, n2], 'after exec.cancel: ');
    const next = await c.call('exec.run', { session_id: sid, command: 'echo alive' });
    assert.equal(next.stdout, 'alive\n');
    assert.notEqual((await c.call('session.info', { session_id: sid })).state, 'terminated');
  });

  it('exec.cancel {session_id} cancels every running command of the session (foreground included); the session survives', async () => {
    const s2 = (await c.call('session.create', {})).session_id;
    const [a, b, f] = [token(), token(), token()];
    const bg1 = await c.call('exec.start', { session_id: s2, command: `sleep ${a}` });
    const bg2 = await c.call('exec.start', { session_id: s2, command: `sleep ${b}` });
    const other = await connect(d);
    try {
      const fgP = other.call('exec.run', { session_id: s2, command: `sleep ${f}` });
      // Settled below; a failure before that must not surface as an unhandled rejection instead of itself.
      fgP.catch(() => undefined);
      assert.ok(await waitFor(() => [a, b, f].every((x) => findSleeps(x).length > 0)), 'the commands did not start');
      // The process can run before the daemon has seen its spawn complete (a loaded machine): wait for its view.
      let fgId: string | undefined;
      const listed = await waitFor(async () => {
        const list = (await c.call('exec.list', { session_id: s2 })).commands as unknown as Info[];
        fgId = list.find((x) => x['background'] === false && x['state'] === 'running')?.['command_id'] as string | undefined;
        return fgId !== undefined;
      });
      assert.ok(listed && fgId, 'exec.list does not show the running foreground command');
      const res = await c.call('exec.cancel', { session_id: s2 });
      assert.deepEqual([...res.cancelled].sort(), [bg1.command_id, bg2.command_id, fgId].sort());
      const fg = await fgP;
      assert.equal(fg.signal, 'SIGTERM');
      assert.equal(fg.running, false);
      await assertSleepsGone([a, b, f], 'after exec.cancel {session_id}: ');
      for (const id of [bg1.command_id, bg2.command_id]) assert.equal((await info(id))['state'], 'killed');
      const next = await c.call('exec.run', { session_id: s2, command: 'echo still-here' });
      assert.equal(next.stdout, 'still-here\n');
      // nothing running: nothing cancelled
      assert.deepEqual((await c.call('exec.cancel', { session_id: s2 })).cancelled, []);
    } finally {
      other.close();
      await c.call('session.destroy', { session_id: s2, force: true }).catch(() => undefined);
    }
  });

  it("exec.cancel {session_id} right behind an exec.start cancels that command too: one still starting is the session's", async () => {
    const s2 = (await c.call('session.create', {})).session_id;
    const n = token();
    try {
      // Pipelined on one connection: the cancel arrives while the start's spawn is under way.
      const startP = c.call('exec.start', { session_id: s2, command: `sleep ${n}` });
      const cancelP = c.call('exec.cancel', { session_id: s2 });
      const [started, res] = await Promise.all([startP, cancelP]);
      assert.deepEqual(res.cancelled, [started.command_id], 'the command being started escaped the cancel');
      await c.call('exec.wait', { command_id: started.command_id, timeout_s: 10 });
      assert.equal((await info(started.command_id))['state'], 'killed');
      await assertSleepsGone([n], 'after exec.cancel {session_id}: ');
    } finally {
      await c.call('session.destroy', { session_id: s2, force: true }).catch(() => undefined);
    }
  });

  it('exec.cancel with an unknown id → COMMAND_NOT_FOUND / SESSION_NOT_FOUND', async () => {
    await expectCode(c, 'exec.cancel', { command_id: 'no-such-command-0000' }, 'COMMAND_NOT_FOUND');
    await expectCode(c, 'exec.cancel', { session_id: '00000000-0000-4000-8000-000000000000' }, 'SESSION_NOT_FOUND');
  });

  it('exec.wait timeout_s → COMMAND_TIMEOUT, and the command keeps running', async () => {
    // the command ends only when the test opens its gate, so it is surely running when exec.wait gives up
    const gate = gatePath();
    const s = await c.call('exec.start', { session_id: sid, command: `while [ ! -e '${gate}' ]; do sleep 0.05; done; echo finished` });
    const t0 = Date.now();
    await expectCode(c, 'exec.wait', { command_id: s.command_id, timeout_s: 0.3 }, 'COMMAND_TIMEOUT');
    const took = Date.now() - t0;
    assert.ok(took >= 250, `exec.wait gave up after ${took} ms for timeout_s 0.3`);
    assert.equal((await info(s.command_id))['state'], 'running');
    fs.writeFileSync(gate, '');
    const r = await c.call('exec.wait', { command_id: s.command_id });
    assert.equal(r.stdout, 'finished\n');
  });

  it('a background command past its timeout_s ends timed_out', async () => {
    const s = await c.call('exec.start', { session_id: sid, command: 'sleep 20', timeout_s: 0.4 });
    const r = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 10 });
    assert.equal(r.timed_out, true);
    const i = await info(s.command_id);
    assert.equal(i['state'], 'timed_out');
    assert.equal(i['timed_out'], true);
  });

  it('exec.run yield_after_s: returns running:true with the output so far, frees the slot; exec.wait gets the end', async () => {
    const s = (await c.call('session.create', {})).session_id;
    const gate = gatePath();
    const t0 = Date.now();
    const r = await c.call('exec.run', { session_id: s, command: `echo start; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo done`, yield_after_s: 1 });
    const took = Date.now() - t0;
    assert.ok(took >= 900, `yielded after ${took} ms for yield_after_s 1`);
    assert.equal(r.running, true);
    assert.equal(r.stdout, 'start\n');
    assert.equal(typeof r.command_id, 'string');
    assert.equal((await info(r.command_id))['state'], 'running');
    // the foreground slot is free: another command runs at once
    const other = await c.call('exec.run', { session_id: s, command: 'echo meanwhile' });
    assert.equal(other.stdout, 'meanwhile\n');
    fs.writeFileSync(gate, '');
    const w = await c.call('exec.wait', { command_id: r.command_id, timeout_s: 10 });
    assert.equal(w.running, false);
    assert.equal(w.exit_code, 0);
    assert.equal(w.stdout, 'start\ndone\n');
    await c.call('session.destroy', { session_id: s });
  });

  it('exec.run yield_after_s on a quick command returns the plain result', async () => {
    const r = await c.call('exec.run', { session_id: sid, command: 'echo quick', yield_after_s: 5 });
    assert.equal(r.running, false);
    assert.equal(r.stdout, 'quick\n');
    assert.equal(r.exit_code, 0);
  });

  it('exec.start without a session_id runs in an ephemeral session that goes away when it ends', async () => {
    const count = async () => (await c.call('session.list', {})).sessions.length;
    const before = await count();
    const s = await c.call('exec.start', { command: 'echo eph' });
    const r = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 10 });
    assert.equal(r.stdout, 'eph\n');
    assert.ok(await waitFor(async () => (await count()) === before), 'the ephemeral session was left behind');
  });
});
