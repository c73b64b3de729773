/**
 * The SDK's side of `raw_output` (MessageRouter): on a byte stream it asks
 * exec.run and exec.wait for their output as raw bytes and fills `stdout` and
 * `stderr` from them as the daemon's JSON would have held them; it leaves a
 * caller's own choice alone; and a daemon that predates `raw_output` (it
 * refuses the parameter before running anything) is asked again without it,
 * and never again with it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageRouter } from '../../src/client/message-router.js';
import { DEADLINE_MS } from '../helpers/wait.js';

/** A router whose sent requests are kept, parsed. */
function router(rawOutput: boolean) {
  const sent: Array<{ id: number; method: string; params: Record<string, unknown> }> = [];
  const r = new MessageRouter((line) => sent.push(JSON.parse(line)), rawOutput);
  return { r, sent };
}

const RESULT = { command_id: 'c1', stdout: '', stderr: '', encoding: 'utf8', exit_code: 0 };

describe('MessageRouter and raw_output', () => {
  it('asks for raw output on exec.run and exec.wait only, and decodes the bytes after the answer', async () => {
    const { r, sent } = router(true);
    const run = r.call('exec.run', { command: 'x' });
    const ping = r.call('system.ping', {});
    assert.equal(sent[0]?.params.raw_output, true);
    assert.equal(sent[1]?.params.raw_output, undefined);
    const out = Buffer.from('héllo\n', 'utf8');
    const err = Buffer.from([0x65, 0xff, 0x0a]);
    const attached = r.receive(JSON.stringify({ id: sent[0]?.id, ok: true, data: { ...RESULT, raw_output: { stdout: out.length, stderr: err.length } } }));
    assert.equal(attached, out.length + err.length);
    r.receiveAttached(Buffer.concat([out, err]));
    assert.equal(r.receive(JSON.stringify({ id: sent[1]?.id, ok: true, data: { uptime_s: 1 } })), undefined);
    assert.deepEqual(await run, { ...RESULT, stdout: 'héllo\n', stderr: 'e\ufffd\n' });
    assert.deepEqual(await ping, { uptime_s: 1 });
    const wait = r.call('exec.wait', { command_id: 'c1', encoding: 'base64' });
    assert.equal(sent[2]?.params.raw_output, true);
    r.receive(JSON.stringify({ id: sent[2]?.id, ok: true, data: { ...RESULT, encoding: 'base64', raw_output: { stdout: 3, stderr: 0 } } }));
    r.receiveAttached(Buffer.from([0, 1, 255]));
    assert.equal(((await wait) as { stdout: string }).stdout, Buffer.from([0, 1, 255]).toString('base64'));
  });

  it("leaves the caller's raw_output alone, and asks for nothing on a transport of messages", () => {
    const own = router(true);
    void own.r.call('exec.run', { command: 'x', raw_output: false });
    assert.equal(own.sent[0]?.params.raw_output, false);
    const ws = router(false);
    void ws.r.call('exec.run', { command: 'x' });
    assert.equal(ws.sent[0]?.params.raw_output, undefined);
  });

  it('an older daemon that does not know raw_output is asked again without it, and from then on', async () => {
    const { r, sent } = router(true);
    const run = r.call('exec.run', { command: 'x' });
    r.receive(JSON.stringify({ id: sent[0]?.id, ok: false, error: { code: 'INVALID_PARAMS', message: "unknown parameter 'raw_output' for exec.run; known: session_id, command" } }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sent.length, 2, 'the request was sent again');
    assert.equal(sent[1]?.params.raw_output, undefined);
    assert.equal(sent[1]?.params.command, 'x');
    r.receive(JSON.stringify({ id: sent[1]?.id, ok: true, data: { ...RESULT, stdout: 'hi' } }));
    assert.equal(((await run) as { stdout: string }).stdout, 'hi');
    void r.call('exec.run', { command: 'y' });
    assert.equal(sent[2]?.params.raw_output, undefined);
  });

  it('another INVALID_PARAMS is the answer, not a reason to ask again', async () => {
    const { r, sent } = router(true);
    const run = r.call('exec.run', { command: '' });
    r.receive(JSON.stringify({ id: sent[0]?.id, ok: false, error: { code: 'INVALID_PARAMS', message: 'command: too short' } }));
    await assert.rejects(run, { code: 'INVALID_PARAMS' });
    assert.equal(sent.length, 1);
  });

  it('the bytes of an answer to an aborted call are taken and dropped: the next answer is read as ever', async () => {
    const { r, sent } = router(true);
    const ac = new AbortController();
    const run = r.call('exec.run', { command: 'x' }, ac.signal);
    ac.abort(new Error('gave up'));
    await assert.rejects(run, /gave up/);
    assert.equal(r.receive(JSON.stringify({ id: sent[0]?.id, ok: true, data: { ...RESULT, raw_output: { stdout: 2, stderr: 0 } } })), 2);
    r.receiveAttached(Buffer.from('ab'));
    const ping = r.call('system.ping', {});
    r.receive(JSON.stringify({ id: sent[1]?.id, ok: true, data: { uptime_s: 2 } }));
    assert.deepEqual(await ping, { uptime_s: 2 });
  });

  it('a closed connection fails a call whose raw_output line came but whose bytes did not', { timeout: DEADLINE_MS }, async () => {
    const { r, sent } = router(true);
    const run = r.call('exec.run', { command: 'x' });
    assert.equal(r.receive(JSON.stringify({ id: sent[0]?.id, ok: true, data: { ...RESULT, raw_output: { stdout: 100, stderr: 0 } } })), 100);
    r.failAll('the connection to the trl daemon closed');
    await assert.rejects(run, { code: 'CONNECTION_CLOSED' });
  });
});
