/**
 * PROTOCOL §6: "A slow client never blocks the command and never grows the
 * daemon's memory past the command's own buffer." A client that stops reading
 * its exec.stream while the command prints 256 MiB: the command finishes, the
 * daemon's RSS stays bounded, and the client, once it reads again, is told
 * how much it missed (`gap`) before the `exit`.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { assertExitData, collectRaw } from './helpers/streams.js';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { useDaemon } from './helpers/fixture.js';
import { MiB, RssSampler } from './helpers/memory.js';
import { rawConnect, type RawConnection } from './helpers/raw-connection.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

/** 64 times the stream's 4 MiB buffer, and more than the daemon's 200 MB RSS bound: buffering it all would show. */
const FLOOD = 256 * MiB;
const RSS_LIMIT = 200 * 1000 * 1000;

describe('a client that stops reading its stream', () => {
  const { d, c } = useDaemon();
  let raw: RawConnection | undefined;

  after(async () => {
    raw?.close();
  });

  it('does not block a command printing 256 MiB nor grow the daemon past 200 MB; on resuming it gets gap then exit', async () => {
    const info = await c.call('system.info', {});
    assert.equal(info.pid, d.pid, 'system.info pid is not the daemon process');
    const sid = (await c.call('session.create', {})).session_id;
    const sampler = new RssSampler(info.pid, 20);
    let gapsSeen: unknown[] = [];
    try {
      raw = await rawConnect(d.socketPath);
      raw.send({
        id: 'slow',
        method: 'exec.stream',
        params: { session_id: sid, command: `yes | head -c ${FLOOD}`, max_output_bytes: 4 * MiB, timeout_s: 120 },
      });
      // read up to the response, then stop reading altogether
      let opened: { stream_id: string; command_id: string } | undefined;
      while (!opened) {
        const l = await raw.next();
        if (l.id === 'slow') {
          assert.equal(l.ok, true, `exec.stream failed: ${JSON.stringify(l.error)}`);
          opened = l.data as { stream_id: string; command_id: string };
        }
      }
      raw.socket.pause();
      const t0 = Date.now();

      // the command runs to its end although nobody reads its stream
      let last: Record<string, unknown> = {};
      const finished = await waitFor(
        async () => {
          last = (await c.call('exec.info', { command_id: opened.command_id })) as unknown as Record<string, unknown>;
          return last['state'] !== 'running';
        },
        DEADLINE_MS,
        100,
      );
      assert.ok(finished, `the command did not finish while its client was not reading (after ${Date.now() - t0} ms): ${JSON.stringify(last)}`);
      assert.equal(last['state'], 'exited', `state: ${JSON.stringify(last)}`);
      assert.equal(last['exit_code'], 0);
      assert.equal(last['stdout_bytes'], FLOOD);
      // stay stalled for a few more RSS samples: the daemon must not pile up the stream meanwhile
      const samplesSoFar = sampler.samples;
      await waitFor(() => sampler.samples >= samplesSoFar + 3);
      const stalledMax = sampler.max;
      assert.ok(stalledMax < RSS_LIMIT, `daemon RSS reached ${(stalledMax / 1e6).toFixed(0)} MB while the client was stalled (limit 200 MB)`);

      // read again: head (what was not sent yet), a gap, the tail, exit
      raw.socket.resume();
      const r = await collectRaw(raw, opened.stream_id);
      gapsSeen = r.gaps.map((g) => ({ ...g, received: r.stdout.received }));
      assert.ok(r.gaps.length >= 1, `no gap event; events: ${r.kinds.slice(0, 10).join(',')}…`);
      for (const g of r.gaps) assert.equal(g.stream, 'stdout');
      assert.equal(r.kinds.at(-1), 'exit');
      assert.equal(r.kinds.indexOf('exit'), r.kinds.length - 1);
      assert.equal(r.afterEnd, 0);
      // every byte is either received or reported dropped
      assert.equal(r.stdout.received + r.stdout.dropped, FLOOD, `received ${r.stdout.received} + dropped ${r.stdout.dropped} != ${FLOOD}`);
      assert.equal(r.stdout.end, FLOOD);
      assert.ok(r.stdout.received <= 4 * MiB + 1 * MiB, `received ${r.stdout.received} bytes: more than the buffer (+ what was in flight)`);
      // what arrived is what `yes` prints, at the right offsets
      assert.match(r.stdout.text, /^(y\n)+$/);
      const exit = assertExitData(r.exit, opened.command_id);
      assert.equal(exit['exit_code'], 0);
      assert.equal(exit['stdout_bytes'], FLOOD);
      assert.equal(exit['stdout_truncated_bytes'], FLOOD - 4 * MiB);
    } finally {
      const max = sampler.stop();
      console.log(`# gaps ${JSON.stringify(gapsSeen)}`);
      console.log(`# daemon RSS max ${(max / 1e6).toFixed(1)} MB over ${sampler.samples} samples`);
      assert.ok(max < RSS_LIMIT, `daemon RSS reached ${(max / 1e6).toFixed(0)} MB (limit 200 MB)`);
      await c.call('session.destroy', { session_id: sid, force: true }).catch(() => undefined);
    }
  });

  it('a client that never reads again does not keep the session busy or the daemon from answering others', async () => {
    const sid = (await c.call('session.create', {})).session_id;
    const stalled = await rawConnect(d.socketPath);
    try {
      stalled.send({ id: 1, method: 'exec.stream', params: { session_id: sid, command: `yes | head -c ${256 * MiB}` } });
      const l = await stalled.next();
      assert.equal(l.ok, true, JSON.stringify(l));
      stalled.socket.pause();
      const command_id = (l.data as { command_id: string }).command_id;
      // other clients are served while it runs
      assert.equal((await c.call('system.ping', {})).version, PROTOCOL_VERSION);
      const w = await c.call('exec.wait', { command_id, timeout_s: 60 });
      assert.equal(w.exit_code, 0);
      // the foreground slot is free once the command ended, although its stream was never read
      const next = await c.call('exec.run', { session_id: sid, command: 'echo next' });
      assert.equal(next.stdout, 'next\n');
    } finally {
      stalled.close();
      await c.call('session.destroy', { session_id: sid, force: true }).catch(() => undefined);
    }
  });
});
