/**
 * The SDK's typed streams, cancellation and resumption, against a real
 * daemon: a stream whose connection is cut mid-command reconnects and
 * continues from its last byte offsets, so the caller sees every byte once;
 * an AbortSignal stops a call or a stream (the command runs on until
 * cancelled); errors arrive as the subclass of their protocol code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CommandStream } from '../src/client/command-stream.js';
import { TrlClient } from '../src/client/client.js';
import { isTrlClientError, TrlErrors } from '../src/client/client-error.js';
import { TrlHttpClient } from '../src/client/http-client.js';
import { TrlWsClient } from '../src/client/ws-client.js';
import { startCutProxy, type CutProxy } from './helpers/cut-proxy.js';
import { makeTempDir } from './helpers/daemon.js';
import { useHttpDaemon } from './helpers/fixture.js';
import { numberedLines, numberedLoop } from './helpers/streams.js';
import { waitFor } from './helpers/wait.js';

/** Read a stream, cutting the proxy's connections once `cutAfter` lines arrived; the text of every stdout event, in order. */
async function readCutting(stream: CommandStream, proxy: CutProxy, cutAfter: number): Promise<string> {
  let text = '';
  let cut = false;
  for await (const ev of stream) {
    if (ev.event !== 'stdout') continue;
    text += ev.data;
    if (!cut && (text.match(/\n/g) ?? []).length >= cutAfter) {
      cut = true;
      proxy.cut();
    }
  }
  assert.ok(cut, 'the command ended before the cut: make it slower');
  return text;
}

describe('SDK streams, cancellation and errors', () => {
  const h = useHttpDaemon();
  let dir: string;
  let unixProxy: CutProxy;
  let tcpProxy: CutProxy;
  let c: TrlClient;

  before(async () => {
    dir = makeTempDir('/tmp/trl-sdk-');
    unixProxy = await startCutProxy({ path: h.d.socketPath }, dir);
    tcpProxy = await startCutProxy({ port: h.port }, makeTempDir('/tmp/trl-sdk-'));
    c = await TrlClient.connect({ socketPath: h.d.socketPath });
  });
  after(async () => {
    c.close();
    await unixProxy.close();
    await tcpProxy.close();
  });

  it('execStream yields typed events and collect() returns the output and the exit data', async () => {
    const stream = await c.execStream({ command: 'echo out; echo err >&2; exit 3' });
    const out = await stream.collect();
    assert.equal(out.stdout, 'out\n');
    assert.equal(out.stderr, 'err\n');
    assert.equal(out.exit.exit_code, 3);
    assert.equal(out.exit.command_id, stream.command_id);
    assert.deepEqual(stream.offsets, { stdout: 4, stderr: 4 });
  });

  it('over the Unix socket, a cut connection is resumed from the last offsets: every byte once', async () => {
    const via = await TrlClient.connect({ socketPath: unixProxy.socketPath });
    const before = unixProxy.accepted();
    const stream = await via.execStream({ command: numberedLoop(30, 0.05) });
    const text = await readCutting(stream, unixProxy, 5);
    assert.equal(text, numberedLines(1, 30));
    assert.ok(stream.resumes >= 1, 'the stream did not resume');
    assert.ok(unixProxy.accepted() > before, `no new connection was made: ${before} then ${unixProxy.accepted()} accepted`);
    assert.equal(stream.exit?.exit_code, 0);
    via.close();
  });

  it('over HTTP, a cut response is resumed on a new request: every byte once', async () => {
    const via = await TrlHttpClient.connect({ url: tcpProxy.url, token: h.token });
    const stream = await via.execStream({ command: numberedLoop(30, 0.05) });
    const text = await readCutting(stream, tcpProxy, 5);
    assert.equal(text, numberedLines(1, 30));
    assert.ok(stream.resumes >= 1, 'the stream did not resume');
    assert.equal(stream.exit?.exit_code, 0);
    via.close();
  });

  it('over a WebSocket, a cut socket is resumed on a new WebSocket: every byte once', async () => {
    const via = await TrlWsClient.connect({ url: tcpProxy.url.replace(/^http/, 'ws'), token: h.token });
    const stream = await via.execStream({ command: numberedLoop(30, 0.05) });
    const text = await readCutting(stream, tcpProxy, 5);
    assert.equal(text, numberedLines(1, 30));
    assert.ok(stream.resumes >= 1, 'the stream did not resume');
    assert.equal(stream.exit?.exit_code, 0);
    via.close();
  });

  it('with resume: false a cut connection ends the iteration with CONNECTION_CLOSED, and the command runs on', async () => {
    const via = await TrlClient.connect({ socketPath: unixProxy.socketPath });
    const stream = await via.execStream({ command: 'echo go; sleep 60' }, { resume: false });
    await assert.rejects(
      async () => {
        for await (const ev of stream) if (ev.event === 'stdout') unixProxy.cut();
      },
      (e: unknown) => e instanceof TrlErrors.CONNECTION_CLOSED,
    );
    assert.equal((await c.call('exec.info', { command_id: stream.command_id })).state, 'running');
    // a later attach from the stream's offsets continues where it stopped
    const later = await c.attach(stream.command_id, { from: stream.offsets });
    await c.call('exec.cancel', { command_id: stream.command_id });
    const rest = await later.collect();
    assert.equal(rest.stdout, '');
    assert.notEqual(rest.exit.signal, null);
  });

  it('an AbortSignal stops a call at once; the client stays usable', async () => {
    const session = await c.call('session.create', {});
    const ac = new AbortController();
    const run = c.call('exec.run', { session_id: session.session_id, command: 'sleep 60' }, { signal: ac.signal });
    assert.ok(await waitFor(async () => (await c.call('exec.list', { session_id: session.session_id })).commands.some((x) => x.state === 'running')));
    ac.abort();
    await assert.rejects(run, (e: unknown) => e instanceof Error && e.name === 'AbortError');
    assert.equal(typeof (await c.call('system.ping')).uptime_s, 'number');
    await c.call('exec.cancel', { session_id: session.session_id });
    await c.call('session.destroy', { session_id: session.session_id });
  });

  it("an AbortSignal stops a stream with the signal's reason; cancel() then stops the command", async () => {
    const ac = new AbortController();
    const stream = await c.execStream({ command: 'echo started; sleep 60' }, { signal: ac.signal });
    const reason = new Error('the user pressed stop');
    await assert.rejects(
      async () => {
        for await (const ev of stream) if (ev.event === 'stdout') ac.abort(reason);
      },
      (e: unknown) => e === reason,
    );
    assert.equal((await c.call('exec.info', { command_id: stream.command_id })).state, 'running');
    await stream.cancel();
    assert.ok(await waitFor(async () => (await c.call('exec.info', { command_id: stream.command_id })).state !== 'running'));
  });

  it('an HTTP call aborted while it waits rejects with the reason', async () => {
    const http = await TrlHttpClient.connect({ url: h.url, token: h.token });
    const session = await http.call('session.create', {});
    const run = http.call('exec.run', { session_id: session.session_id, command: 'sleep 60' }, { signal: AbortSignal.timeout(200) });
    await assert.rejects(run, (e: unknown) => e instanceof Error && e.name === 'TimeoutError');
    await http.call('session.destroy', { session_id: session.session_id, force: true });
    http.close();
  });

  it('errors are instances of their code: over the socket and over HTTP', async () => {
    const http = await TrlHttpClient.connect({ url: h.url, token: h.token });
    for (const client of [c, http]) {
      const err = await client.call('session.info', { session_id: 'no-such-session' }).catch((e: unknown) => e);
      assert.ok(err instanceof TrlErrors.SESSION_NOT_FOUND, String(err));
      assert.ok(isTrlClientError(err, 'SESSION_NOT_FOUND'));
      assert.ok(err.message.length > 0);
    }
    const attach = await c.attach('no-such-command').catch((e: unknown) => e);
    assert.ok(attach instanceof TrlErrors.COMMAND_NOT_FOUND, String(attach));
    http.close();
  });

  it('attach replays a background command from a byte offset', async () => {
    const started = await c.call('exec.start', { command: 'printf "0123456789"' });
    const result = await c.call('exec.wait', { command_id: started.command_id });
    assert.equal(result.exit_code, 0);
    const stream = await c.attach(started.command_id, { from: { stdout: 4 } });
    const events: string[] = [];
    let text = '';
    for await (const ev of stream) {
      events.push(ev.event);
      if (ev.event === 'stdout') {
        assert.equal(ev.offset, 4);
        text += ev.data;
      }
    }
    assert.equal(text, '456789');
    assert.equal(events.at(-1), 'exit');
  });
});
