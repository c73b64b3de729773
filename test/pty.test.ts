/**
 * PROTOCOL §6 `pty: {cols, rows}`: the command runs on a pseudo-terminal —
 * it sees a tty of the given size, stdout and stderr merge into `stdout`,
 * exec.input bytes go to the terminal (Ctrl-C interrupts the foreground job),
 * exec.resize changes the size (pty commands only).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertExitData, streamAll } from './helpers/streams.js';
import { expectCode, waitForOutput } from './helpers/client.js';
import { useDaemon } from './helpers/fixture.js';
import { assertSleepsGone, findSleeps, killSleeps, uniqueSleep } from './helpers/processes.js';
import { waitFor } from './helpers/wait.js';

describe('pty commands', () => {
  const { c } = useDaemon();
  let sid: string;
  const spawned: number[] = [];

  before(async () => {
    sid = (await c.call('session.create', {})).session_id;
  });
  after(async () => {
    killSleeps(spawned);
  });

  it('the command sees a terminal of the given size; stderr merges into stdout', async () => {
    const r = await c.call('exec.run', {
      session_id: sid,
      command: 'test -t 0 && echo in-tty; test -t 1 && echo out-tty || echo not-a-tty; echo to-stderr >&2; stty size',
      pty: { cols: 80, rows: 24 },
    });
    assert.equal(r.exit_code, 0);
    assert.equal(r.stderr, '', 'a pty command has no separate stderr');
    const lines = r.stdout.split(/\r?\n/);
    assert.ok(lines.includes('out-tty'), `test -t 1 was false: ${JSON.stringify(r.stdout)}`);
    assert.ok(lines.includes('in-tty'), `test -t 0 was false: ${JSON.stringify(r.stdout)}`);
    assert.ok(lines.includes('to-stderr'), `stderr did not merge into stdout: ${JSON.stringify(r.stdout)}`);
    assert.ok(lines.includes('24 80'), `stty size: ${JSON.stringify(r.stdout)}`);
    assert.equal(r.stderr_bytes, 0);
    // a non-pty command is not on a terminal
    const plain = await c.call('exec.run', { session_id: sid, command: 'test -t 1 && echo tty || echo no-tty' });
    assert.equal(plain.stdout, 'no-tty\n');
  });

  it('exec.stream of a pty command carries only stdout events (terminal line endings)', async () => {
    const r = await streamAll(c, 'exec.stream', { session_id: sid, command: 'echo one; echo two >&2', pty: { cols: 100, rows: 30 } });
    assert.equal(r.stderr.chunks, 0, 'a pty stream sent stderr events');
    assert.equal(r.stdout.text, 'one\r\ntwo\r\n');
    const exit = assertExitData(r.exit, r.command_id);
    assert.equal(exit['exit_code'], 0);
    assert.equal(exit['stdout_bytes'], 10);
    assert.equal(exit['stderr_bytes'], 0);
  });

  it('exec.resize to 120×40: stty size prints 40 120', async () => {
    const s = await c.call('exec.start', { session_id: sid, command: 'echo ready; read x; stty size', pty: { cols: 80, rows: 24 }, stdin_open: true });
    const i = await c.call('exec.info', { command_id: s.command_id });
    assert.equal(i.pty, true);
    await waitForOutput(c, s.command_id, 'ready');
    const res = await c.call('exec.resize', { command_id: s.command_id, cols: 120, rows: 40 });
    assert.deepEqual(res, { command_id: s.command_id, cols: 120, rows: 40 });
    await c.call('exec.input', { command_id: s.command_id, data: '\n' });
    const r = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 10 });
    assert.equal(r.exit_code, 0);
    assert.ok(r.stdout.split(/\r?\n/).includes('40 120'), `stty size after resize: ${JSON.stringify(r.stdout)}`);
  });

  it('exec.input goes to the terminal (echoed, line-edited); \\x03 interrupts sleep', async () => {
    const n = uniqueSleep();
    spawned.push(n);
    const s = await c.call('exec.start', {
      session_id: sid,
      command: `read line; echo "read:$line"; echo ready; sleep ${n}; echo after-sleep`,
      pty: { cols: 80, rows: 24 },
      stdin_open: true,
    });
    await c.call('exec.input', { command_id: s.command_id, data: 'abX\x7fc\r' });
    // the terminal echoes the input and its line discipline handles the backspace
    await waitForOutput(c, s.command_id, 'ready');
    // Ctrl-C while the shell is still forking sleep is a shell race (dash -c catches SIGINT and
    // waits for the child started after it): send it once sleep runs, as a person would
    assert.ok(await waitFor(() => findSleeps(n).length > 0), 'sleep did not start');
    await c.call('exec.input', { command_id: s.command_id, data: '\x03' });
    // the sleep lasts hours: only the interrupt ends the command within the wait
    const r = await c.call('exec.wait', { command_id: s.command_id, timeout_s: 60 });
    assert.ok(r.stdout.includes('read:abc'), `the line read through the terminal: ${JSON.stringify(r.stdout)}`);
    assert.ok(!r.stdout.includes('after-sleep'), `the command went on after Ctrl-C: ${JSON.stringify(r.stdout)}`);
    assert.ok(r.signal === 'SIGINT' || r.exit_code === 130, `expected an interrupt, got exit ${r.exit_code} signal ${r.signal}`);
    await assertSleepsGone([n], 'after Ctrl-C: ');
  });

  it('exec.resize of a non-pty command → INVALID_PARAMS; of an unknown one → COMMAND_NOT_FOUND', async () => {
    const n = uniqueSleep();
    spawned.push(n);
    const s = await c.call('exec.start', { session_id: sid, command: `sleep ${n}` });
    await expectCode(c, 'exec.resize', { command_id: s.command_id, cols: 100, rows: 30 }, 'INVALID_PARAMS');
    await c.call('exec.cancel', { command_id: s.command_id });
    await expectCode(c, 'exec.resize', { command_id: 'no-such-command-0000', cols: 100, rows: 30 }, 'COMMAND_NOT_FOUND');
    await expectCode(c, 'exec.run', { session_id: sid, command: 'true', pty: { cols: 0, rows: 30 } }, 'INVALID_PARAMS');
  });
});
