/**
 * exec.stream's relay options (PROTOCOL §6; the docker tier's inner path uses
 * them): `background` starts beside the foreground slot and the answer names
 * the pid; `fd3` gives an argv program a pipe on fd 3 and returns what it
 * wrote in the exit event — bounded, redacted as the output is, absent after
 * a kill, never taken as the session's state, refused for a shell command or
 * a pty.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { expectCode } from './helpers/client.js';
import { makeTempDir } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { streamAll } from './helpers/streams.js';

describe('exec.stream background and fd3', () => {
  let sid: string;
  let wd: string;
  const { c } = useDaemon(() => {
    wd = fs.realpathSync(makeTempDir('/tmp/trl-wd-'));
    return { flags: ['--default-working-dir', wd] };
  });
  before(async () => {
    sid = (await c.call('session.create', { env: { RELAY_TOKEN: 'hunter2-secret-value' }, secret_keys: ['RELAY_TOKEN'] })).session_id;
  });
  after(() => fs.rmSync(wd, { recursive: true, force: true }));

  it('background: runs beside a foreground command, and the answer names its pid', async () => {
    const fg = await c.stream('exec.stream', { session_id: sid, command: 'sleep 30', timeout_s: 60 });
    try {
      const open = await c.stream('exec.stream', { session_id: sid, argv: ['/bin/sh', '-c', 'echo "pid $$"'], background: true });
      assert.ok(open.pid > 0, `no pid in ${JSON.stringify({ stream_id: open.stream_id, command_id: open.command_id, pid: open.pid })}`);
      let text = '';
      for await (const e of open.events) {
        if (e.event === 'stdout') text += String(e.data);
        if (e.event === 'exit' || e.event === 'error') break;
      }
      assert.equal(text, `pid ${open.pid}\n`);
      await expectCode(c, 'exec.stream', { session_id: sid, command: 'true' }, 'SESSION_BUSY');
    } finally {
      await c.call('exec.cancel', { command_id: fg.command_id });
    }
  });

  it('fd3: what the program wrote on fd 3 comes back in the exit event, redacted; the session state is untouched', async () => {
    const before = await c.call('session.info', { session_id: sid });
    const script = 'printf "/nowhere\\0export X=1\\n%s" "$RELAY_TOKEN" >&3; echo out';
    const r = await streamAll(c, 'exec.stream', { session_id: sid, argv: ['/bin/sh', '-c', script], fd3: true });
    assert.equal(r.stdout.text, 'out\n');
    const fd3 = Buffer.from(String(r.exit?.['fd3']), 'base64').toString('latin1');
    assert.equal(fd3, '/nowhere\0export X=1\n[REDACTED]');
    const now = await c.call('session.info', { session_id: sid });
    assert.deepEqual([now.working_dir, now.env_keys], [before.working_dir, before.env_keys], 'fd3 must never become the session state');
    const plain = await streamAll(c, 'exec.stream', { session_id: sid, argv: ['/bin/sh', '-c', 'true'] });
    assert.equal(Object.hasOwn(plain.exit ?? {}, 'fd3'), false, 'fd3 appears only when asked for');
  });

  it('fd3: null when nothing was written, when the program was killed, or past the bound', async () => {
    const none = await streamAll(c, 'exec.stream', { session_id: sid, argv: ['/bin/sh', '-c', 'true'], fd3: true });
    assert.equal(none.exit?.['fd3'], null);
    const killed = await streamAll(c, 'exec.stream', { session_id: sid, argv: ['/bin/sh', '-c', 'echo partial >&3; kill -9 $$'], fd3: true });
    assert.equal(killed.exit?.['signal'], 'SIGKILL');
    assert.equal(killed.exit?.['fd3'], null);
    const huge = await streamAll(c, 'exec.stream', { session_id: sid, argv: ['/bin/sh', '-c', 'head -c 5000000 /dev/zero >&3; echo done'], fd3: true });
    assert.equal(huge.stdout.text, 'done\n', 'a large fd 3 must not block the writer');
    assert.equal(huge.exit?.['fd3'], null);
  });

  it('fd3 is refused for a shell command and under a pty', async () => {
    await expectCode(c, 'exec.stream', { session_id: sid, command: 'true', fd3: true }, 'INVALID_PARAMS');
    await expectCode(c, 'exec.stream', { session_id: sid, argv: ['/bin/true'], fd3: true, pty: { cols: 80, rows: 24 } }, 'INVALID_PARAMS');
    await expectCode(c, 'exec.start', { session_id: sid, argv: ['/bin/true'], fd3: true }, 'INVALID_PARAMS');
  });
});
