/**
 * PROTOCOL §6 "Driving a running command": output outlives the connection.
 * A disconnect does not stop a streamed command; exec.attach replays from an
 * offset then goes live; exec.output reads pages by offset and long-polls;
 * finished commands are forgotten after command_retention_s.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { assertExitData, collectStream, numberedLines, numberedLoop, streamAll } from './helpers/streams.js';
import { connect, expectCode } from './helpers/client.js';
import { useDaemon } from './helpers/fixture.js';
import { DEADLINE_MS, settles, waitFor } from './helpers/wait.js';

type Out = { data: string; encoding: string; offset: number; next_offset: number; eof: boolean; dropped_bytes: number };

describe('output after the fact: attach and exec.output', () => {
  const { d, c } = useDaemon();
  let sid: string;

  before(async () => {
    sid = (await c.call('session.create', {})).session_id;
  });

  const output = (p: Record<string, unknown>) => c.call('exec.output', p as never) as Promise<Out>;

  it('a disconnect mid-stream does not stop the command; exec.attach from the last offset yields exactly the missing bytes', async () => {
    const N = 40;
    const first = await connect(d);
    const open = await first.stream('exec.stream', { session_id: sid, command: numberedLoop(N, 0.03) });
    // read until at least 5 lines arrived, then drop the connection
    let got = '';
    const early = await collectStream(open, {
      onEvent: (ev) => {
        if (ev.event === 'stdout') got += ev.data as string;
        return (got.match(/\n/g) ?? []).length >= 5;
      },
    });
    assert.equal(early.exit, null, 'the command ended before the disconnect: make it slower');
    first.close();
    const received = Buffer.byteLength(got);
    assert.equal(early.stdout.end, received);

    const info = await c.call('exec.info', { command_id: open.command_id });
    assert.equal(info.state, 'running', 'the command stopped when its client disconnected');

    const rest = await streamAll(c, 'exec.attach', { command_id: open.command_id, from_offset: { stdout: received } }, { from: { stdout: received } });
    assert.equal(rest.command_id, open.command_id);
    assert.deepEqual(rest.gaps, []);
    assert.equal(got + rest.stdout.text, numberedLines(1, N), 'the bytes before and after the disconnect do not make up the output');
    const exit = assertExitData(rest.exit, open.command_id);
    assert.equal(exit['exit_code'], 0);
    assert.equal(exit['stdout_bytes'], Buffer.byteLength(numberedLines(1, N)));
    // and the session's foreground slot is free again
    const next = await c.call('exec.run', { session_id: sid, command: 'echo after' });
    assert.equal(next.stdout, 'after\n');
  });

  it('exec.attach to a finished command replays everything (or from an offset, per stream) and ends with exit at once', async () => {
    const r = await c.call('exec.run', { session_id: sid, command: 'echo abc; echo xyz >&2; exit 4' });
    const t0 = Date.now();
    const all = await streamAll(c, 'exec.attach', { command_id: r.command_id });
    assert.ok(Date.now() - t0 < 1000, `attaching to a finished command took ${Date.now() - t0} ms`);
    assert.equal(all.stdout.text, 'abc\n');
    assert.equal(all.stderr.text, 'xyz\n');
    assert.equal(assertExitData(all.exit, r.command_id)['exit_code'], 4);

    const both = await streamAll(c, 'exec.attach', { command_id: r.command_id, from_offset: 2 }, { from: { stdout: 2, stderr: 2 } });
    assert.equal(both.stdout.text, 'c\n');
    assert.equal(both.stderr.text, 'z\n');

    const per = await streamAll(c, 'exec.attach', { command_id: r.command_id, from_offset: { stdout: 3 } }, { from: { stdout: 3 } });
    assert.equal(per.stdout.text, '\n');
    assert.equal(per.stderr.text, 'xyz\n');

    const b64 = await streamAll(c, 'exec.attach', { command_id: r.command_id, encoding: 'base64' });
    assert.equal(b64.stdout.bytes.toString(), 'abc\n');
  });

  it('several clients attached to one running command all get the whole output', async () => {
    const N = 20;
    const { command_id } = await c.call('exec.start', { session_id: sid, command: numberedLoop(N, 0.02) + '; echo done >&2' });
    const clients = await Promise.all([connect(d), connect(d), connect(d)]);
    try {
      const results = await Promise.all(clients.map((k) => streamAll(k, 'exec.attach', { command_id })));
      for (const res of results) {
        assert.equal(res.command_id, command_id);
        assert.equal(res.stdout.text, numberedLines(1, N));
        assert.equal(res.stderr.text, 'done\n');
        assert.equal(assertExitData(res.exit, command_id)['exit_code'], 0);
      }
    } finally {
      for (const k of clients) k.close();
    }
  });

  it('exec.attach to an unknown command → COMMAND_NOT_FOUND', async () => {
    await expectCode(c, 'exec.attach', { command_id: 'no-such-command-0000' }, 'COMMAND_NOT_FOUND');
    await expectCode(c, 'exec.output', { command_id: 'no-such-command-0000' }, 'COMMAND_NOT_FOUND');
    await expectCode(c, 'exec.info', { command_id: 'no-such-command-0000' }, 'COMMAND_NOT_FOUND');
  });

  it('exec.output long-poll returns as soon as a byte appears, well before wait_ms', async () => {
    // `y` never comes (the command is cancelled at the end) and wait_ms is the 10 min maximum: the poll returns only on the byte
    const { command_id } = await c.call('exec.start', { session_id: sid, command: 'sleep 0.3; printf x; sleep 100000; printf y' });
    const polled = await settles(output({ command_id, offset: 0, wait_ms: 600_000 }));
    assert.ok(polled.settled, 'the long-poll did not return when the byte arrived');
    const o = polled.value;
    assert.equal(o.data, 'x');
    assert.equal(o.offset, 0);
    assert.equal(o.next_offset, 1);
    assert.equal(o.eof, false);

    // nothing new within wait_ms: returns empty after about wait_ms
    const t1 = Date.now();
    const none = await output({ command_id, offset: 1, wait_ms: 400 });
    const waited = Date.now() - t1;
    assert.equal(none.data, '');
    assert.equal(none.next_offset, 1);
    assert.equal(none.eof, false);
    assert.ok(waited >= 350, `an empty long-poll returned after ${waited} ms for wait_ms 400`);

    // without wait_ms it returns at once (no more output ever comes before the cancel)
    const plain = await settles(output({ command_id, offset: 1 }));
    assert.ok(plain.settled, 'exec.output without wait_ms waited for output');
    assert.equal(plain.value.data, '');
    await c.call('exec.cancel', { command_id });
  });

  it('exec.output long-poll returns when the command ends without printing more (eof)', async () => {
    const { command_id } = await c.call('exec.start', { session_id: sid, command: 'printf ab; sleep 0.4' });
    await waitFor(async () => (await output({ command_id })).next_offset === 2);
    const polled = await settles(output({ command_id, offset: 2, wait_ms: 600_000 }));
    assert.ok(polled.settled, 'the long-poll (wait_ms 10 min) did not return when the command ended');
    const o = polled.value;
    assert.equal(o.data, '');
    assert.equal(o.eof, true);
    assert.equal(o.next_offset, 2);
  });

  it('exec.output pages through the output by next_offset (max_bytes), per stream, in both encodings', async () => {
    // about 1.3 MB on stdout, a little on stderr
    const r = await c.call('exec.run', { session_id: sid, command: 'seq 1 200000; echo oops >&2' });
    const full = Array.from({ length: 200000 }, (_, i) => `${i + 1}\n`).join('');
    assert.equal(r.stdout_bytes, full.length);
    let off = 0;
    let text = '';
    let pages = 0;
    for (;;) {
      const o = await output({ command_id: r.command_id, offset: off, max_bytes: 100_000 });
      assert.equal(o.offset, off);
      assert.equal(o.dropped_bytes, 0);
      assert.equal(o.encoding, 'utf8');
      assert.ok(Buffer.byteLength(o.data) <= 100_000, `page of ${Buffer.byteLength(o.data)} bytes over max_bytes`);
      assert.equal(o.next_offset, off + Buffer.byteLength(o.data));
      text += o.data;
      off = o.next_offset;
      pages++;
      if (o.eof) break;
      assert.ok(o.data.length > 0, 'an empty page that is not eof');
      assert.ok(pages < 100, 'too many pages');
    }
    assert.equal(off, full.length);
    assert.ok(text === full, 'the pages do not make up the output');
    assert.ok(pages >= Math.ceil(full.length / 100_000), `only ${pages} pages`);

    // default page: at most 1 MiB
    const big = await output({ command_id: r.command_id });
    assert.equal(big.next_offset, 1024 * 1024);
    assert.equal(big.eof, false);

    const err = await output({ command_id: r.command_id, stream: 'stderr' });
    assert.equal(err.data, 'oops\n');
    assert.equal(err.eof, true);

    const b = await output({ command_id: r.command_id, offset: 10, max_bytes: 6, encoding: 'base64' });
    assert.equal(b.encoding, 'base64');
    assert.equal(Buffer.from(b.data, 'base64').toString(), full.slice(10, 16));
    assert.equal(b.next_offset, 16);
  });

  it('exec.output across a dropped middle: offset jumps past it and dropped_bytes says how much', async () => {
    const cap = 100_000;
    const r = await c.call('exec.run', { session_id: sid, command: 'seq 1 100000', max_output_bytes: cap });
    const full = Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join('');
    assert.equal(r.stdout_truncated_bytes, full.length - cap);
    let off = 0;
    let kept = '';
    let dropped = 0;
    for (let pages = 0; pages < 50; pages++) {
      const o = await output({ command_id: r.command_id, offset: off, max_bytes: 30_000 });
      if (o.offset !== off) {
        assert.equal(o.dropped_bytes, o.offset - off, 'dropped_bytes must be the distance skipped');
        dropped += o.dropped_bytes;
      } else assert.equal(o.dropped_bytes, 0);
      assert.equal(full.slice(o.offset, o.next_offset), o.data, `page at ${o.offset} is not the output at that offset`);
      kept += o.data;
      off = o.next_offset;
      if (o.eof) break;
    }
    assert.equal(off, full.length);
    assert.equal(Buffer.byteLength(kept), cap);
    assert.equal(dropped, full.length - cap);
  });

  it('exec.output rejects max_bytes over 1 MiB or reads at most 1 MiB', async () => {
    const r = await c.call('exec.run', { session_id: sid, command: 'head -c 3000000 /dev/zero' });
    let o: Out | null = null;
    try {
      o = await output({ command_id: r.command_id, max_bytes: 2 * 1024 * 1024, encoding: 'base64' });
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'INVALID_PARAMS');
    }
    if (o) assert.ok(o.next_offset <= 1024 * 1024, `read ${o.next_offset} bytes in one call (limit 1 MiB)`);
  });
});

describe('command retention (--command-retention-s 3)', () => {
  // 3 s, not 1: the reads that must find a command that just ended happen within it even on a loaded machine.
  const { c } = useDaemon({ flags: ['--command-retention-s', '3'] });

  it('a finished command is readable, then COMMAND_NOT_FOUND after its retention; a running one is never forgotten', async () => {
    const sid = (await c.call('session.create', {})).session_id;
    // runs until the test gives it a line: older than the retention by the time the other is forgotten
    const long = await c.call('exec.start', { session_id: sid, command: 'read line; echo "late $line"', stdin_open: true });
    const r = await c.call('exec.run', { session_id: sid, command: 'echo kept' });
    assert.equal((await c.call('exec.info', { command_id: r.command_id })).state, 'exited');
    assert.equal((await c.call('exec.output', { command_id: r.command_id })).data, 'kept\n');
    const gone = await waitFor(
      async () => {
        try {
          await c.call('exec.info', { command_id: r.command_id });
          return false;
        } catch (e) {
          return (e as { code?: string }).code === 'COMMAND_NOT_FOUND';
        }
      },
      DEADLINE_MS,
      100,
    );
    assert.ok(gone, `the finished command was still known ${DEADLINE_MS / 1000} s after it ended (retention 3 s)`);
    await expectCode(c, 'exec.output', { command_id: r.command_id }, 'COMMAND_NOT_FOUND');
    await expectCode(c, 'exec.wait', { command_id: r.command_id }, 'COMMAND_NOT_FOUND');
    await expectCode(c, 'exec.attach', { command_id: r.command_id }, 'COMMAND_NOT_FOUND');
    // the background command started before it is still running (older than the retention) and still known
    assert.equal((await c.call('exec.info', { command_id: long.command_id })).state, 'running');
    await c.call('exec.input', { command_id: long.command_id, data: 'now\n' });
    const w = await c.call('exec.wait', { command_id: long.command_id, timeout_s: 30 });
    assert.equal(w.stdout, 'late now\n');
    // and after it ends, its result is still readable for the retention time
    assert.equal((await c.call('exec.info', { command_id: long.command_id })).state, 'exited');
    await c.call('session.destroy', { session_id: sid });
  });
});
