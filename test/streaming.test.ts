/**
 * PROTOCOL §6 exec.stream: the events of a running command — exact bytes over
 * base64, contiguous offsets per stream, UTF-8 characters never split, the
 * exit event's fields, the foreground slot, ephemeral sessions.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertExitData, collectStream, sha256File, streamAll } from './helpers/streams.js';
import { connect, expectCode } from './helpers/client.js';
import { makeTempDir } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { MiB } from './helpers/memory.js';
import { waitFor } from './helpers/wait.js';

describe('exec.stream', () => {
  let sid: string;
  let wd: string;
  let tmp: string;

  const { d, c } = useDaemon(() => {
    wd = fs.realpathSync(makeTempDir('/tmp/trl-wd-'));
    tmp = makeTempDir('/tmp/trl-stream-');
    // a large per-stream cap, so that the 50 MiB test cannot lose bytes to the head+tail policy
    return { flags: ['--default-working-dir', wd, '--max-output-bytes', String(128 * MiB)] };
  });
  before(async () => {
    sid = (await c.call('session.create', {})).session_id;
  });
  after(() => {
    fs.rmSync(wd, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('50 MiB of random bytes (and 3 MiB on stderr) reassemble exactly from base64 events, offsets contiguous, no gap', async () => {
    const out = path.join(tmp, 'out.bin');
    const err = path.join(tmp, 'err.bin');
    const command = `(head -c ${3 * MiB} /dev/urandom | tee ${err} >&2) & ` + `head -c ${50 * MiB} /dev/urandom | tee ${out}; wait`;
    const r = await streamAll(c, 'exec.stream', { session_id: sid, command, encoding: 'base64', max_output_bytes: 64 * MiB, timeout_s: 60 }, { hashOnly: true });
    assert.deepEqual(r.gaps, [], 'a fast reader with a large enough buffer must not see a gap');
    assert.equal(r.error, null, `error event: ${JSON.stringify(r.error)}`);
    assert.equal(r.afterEnd, 0, 'events after exit');
    assert.equal(r.kinds.at(-1), 'exit');
    assert.equal(r.stdout.received, 50 * MiB, 'stdout bytes received');
    assert.equal(r.stderr.received, 3 * MiB, 'stderr bytes received');
    assert.equal(r.stdout.sha256, sha256File(out), 'stdout bytes differ from what the command wrote');
    assert.equal(r.stderr.sha256, sha256File(err), 'stderr bytes differ from what the command wrote');
    assert.ok(r.stdout.chunks > 1, 'expected many stdout chunks');
    const exit = assertExitData(r.exit, r.command_id);
    assert.equal(exit['exit_code'], 0);
    assert.equal(exit['signal'], null);
    assert.equal(exit['timed_out'], false);
    assert.equal(exit['stdout_bytes'], 50 * MiB);
    assert.equal(exit['stderr_bytes'], 3 * MiB);
    assert.equal(exit['stdout_truncated_bytes'], 0);
    assert.equal(exit['stderr_truncated_bytes'], 0);
  });

  it('a UTF-8 character split across two writes arrives intact in utf8 mode (stdout and stderr)', async () => {
    // € = e2 82 ac, 😀 = f0 9f 98 80: each written in two parts 300 ms apart
    const command = `printf '\\342\\202'; printf '\\360\\237' >&2; sleep 0.3; printf '\\254\\n'; printf '\\230\\200\\n' >&2`;
    const r = await streamAll(c, 'exec.stream', { session_id: sid, command });
    assert.equal(r.stdout.text, '€\n');
    assert.equal(r.stderr.text, '😀\n');
    assert.equal(r.stdout.end, 4, 'stdout offsets count bytes');
    assert.equal(r.stderr.end, 5, 'stderr offsets count bytes');
    assert.ok(!r.stdout.text.includes('\uFFFD') && !r.stderr.text.includes('\uFFFD'), 'a replacement character: the character was split');
    const exit = assertExitData(r.exit, r.command_id);
    assert.equal(exit['stdout_bytes'], 4);
    assert.equal(exit['stderr_bytes'], 5);
  });

  it('3 MB of multi-byte characters in utf8 mode: no character split at any chunk boundary', async () => {
    // 31-byte lines of ten 3-byte characters: the daemon's reads split characters all the time
    const line = '€'.repeat(10) + '\n';
    const r = await streamAll(c, 'exec.stream', { session_id: sid, command: `yes '${'€'.repeat(10)}' | head -n 100000` });
    assert.ok(!r.stdout.text.includes('\uFFFD'), 'a replacement character: a character was split across events');
    assert.ok(r.stdout.text === line.repeat(100000), 'the text differs from what the command printed');
    assert.equal(r.stdout.end, 3_100_000);
    assert.ok(r.stdout.chunks > 1);
    assert.equal(assertExitData(r.exit)['stdout_bytes'], 3_100_000);
  });

  it('the same split character in base64 mode gives the exact bytes', async () => {
    const command = `printf '\\342\\202'; sleep 0.2; printf '\\254\\n'`;
    const r = await streamAll(c, 'exec.stream', { session_id: sid, command, encoding: 'base64' });
    assert.deepEqual([...r.stdout.bytes], [0xe2, 0x82, 0xac, 0x0a]);
  });

  it('the exit event carries the exec result fields (exit code, byte counts, cwd), and nothing follows it', async () => {
    const r = await streamAll(c, 'exec.stream', { session_id: sid, command: 'echo out; echo error >&2; exit 3' });
    assert.equal(r.stdout.text, 'out\n');
    assert.equal(r.stderr.text, 'error\n');
    const exit = assertExitData(r.exit, r.command_id);
    assert.equal(exit['exit_code'], 3);
    assert.equal(exit['signal'], null);
    assert.equal(exit['timed_out'], false);
    assert.equal(exit['stdout_bytes'], 4);
    assert.equal(exit['stderr_bytes'], 6);
    assert.equal(exit['stdout_truncated_bytes'], 0);
    assert.equal(exit['stderr_truncated_bytes'], 0);
    assert.equal(exit['working_dir'], wd);
    assert.equal(r.afterEnd, 0);
  });

  it('a timed-out stream ends with an exit event saying so', async () => {
    const r = await streamAll(c, 'exec.stream', { session_id: sid, command: 'echo before; sleep 20', timeout_s: 0.5 });
    assert.equal(r.stdout.text, 'before\n');
    const exit = assertExitData(r.exit, r.command_id);
    assert.equal(exit['timed_out'], true);
    assert.notEqual(exit['exit_code'], 0);
  });

  it('is a foreground command: cd and export persist into the session', async () => {
    const s = (await c.call('session.create', {})).session_id;
    fs.mkdirSync(path.join(wd, 'sub'), { recursive: true });
    const r = await streamAll(c, 'exec.stream', { session_id: s, command: 'cd sub && export STREAMED=yes' });
    assert.equal(assertExitData(r.exit)['working_dir'], path.join(wd, 'sub'));
    const after = await c.call('exec.run', { session_id: s, command: 'pwd; echo "$STREAMED"' });
    assert.equal(after.stdout, `${path.join(wd, 'sub')}\nyes\n`);
    await c.call('session.destroy', { session_id: s });
  });

  it('holds the foreground slot: exec.run and exec.stream get SESSION_BUSY (from any connection) until it ends; exec.start does not', async () => {
    const s = (await c.call('session.create', {})).session_id;
    // it holds the slot until the test gives it a line, however slow the machine
    const open = await c.stream('exec.stream', { session_id: s, command: 'read line; echo "$line"', stdin_open: true });
    await expectCode(c, 'exec.run', { session_id: s, command: 'echo no' }, 'SESSION_BUSY');
    const other = await connect(d);
    try {
      await expectCode(other, 'exec.stream', { session_id: s, command: 'echo no' }, 'SESSION_BUSY');
      const bg = await other.call('exec.start', { session_id: s, command: 'echo beside' });
      const w = await other.call('exec.wait', { command_id: bg.command_id, timeout_s: 10 });
      assert.equal(w.stdout, 'beside\n');
    } finally {
      other.close();
    }
    await c.call('exec.input', { command_id: open.command_id, data: 'streamed\n' });
    const r = await collectStream(open);
    assert.equal(r.stdout.text, 'streamed\n');
    assert.equal(assertExitData(r.exit)['exit_code'], 0);
    // the slot is free again
    const again = await c.call('exec.run', { session_id: s, command: 'echo free' });
    assert.equal(again.stdout, 'free\n');
    await c.call('session.destroy', { session_id: s });
  });

  it('streams a command in an ephemeral session (no session_id), which is gone afterwards', async () => {
    const count = async () => (await c.call('session.list', {})).sessions.length;
    const before = await count();
    const r = await streamAll(c, 'exec.stream', { command: 'echo ephemeral; echo e >&2' });
    assert.equal(r.stdout.text, 'ephemeral\n');
    assert.equal(r.stderr.text, 'e\n');
    assert.equal(assertExitData(r.exit, r.command_id)['exit_code'], 0);
    assert.ok(await waitFor(async () => (await count()) === before), 'the ephemeral session was not destroyed');
  });

  it('streams an argv command (no shell)', async () => {
    const r = await streamAll(c, 'exec.stream', { session_id: sid, argv: ['printf', '%s|', 'a b', '$HOME'] });
    assert.equal(r.stdout.text, 'a b|$HOME|');
    assert.equal(assertExitData(r.exit)['exit_code'], 0);
  });
});
