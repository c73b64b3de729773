/**
 * The HTTP transport (PROTOCOL §1): POST /v1/rpc with one envelope per
 * request, streaming methods as an NDJSON body whose events arrive as they
 * happen, status codes outside the protocol (401/404/405/413), the per-client
 * stream cap, HTTPS with a certificate made here, HTTP-only mode, and the SDK's
 * HTTP client. A real daemon over real HTTP throughout.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { TrlHttpClient } from '../src/client/http-client.js';
import { TrlWsClient } from '../src/client/ws-client.js';
import { connectTrl } from '../src/client/connect.js';
import { TrlClientError } from '../src/client/client-error.js';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { openWs, request, rpc, rpcStream, selfSignedCert, startHttpDaemon, type HttpDaemon } from './helpers/http.js';
import { runCli } from './helpers/secrets.js';
import { makeTempDir } from './helpers/daemon.js';
import { killSleeps, uniqueSleep } from './helpers/processes.js';
import { waitFor } from './helpers/wait.js';
import { useHttpDaemon } from './helpers/fixture.js';

describe('POST /v1/rpc', () => {
  let wd: string;
  const sleeps: number[] = [];
  const h = useHttpDaemon(() => {
    wd = fs.realpathSync(makeTempDir('/tmp/trl-wd-'));
    return { flags: ['--max-request-bytes', '4096', '--default-working-dir', wd, '--kill-grace-s', '1'] };
  });
  afterEach(() => killSleeps(sleeps));
  after(() => {
    if (wd) fs.rmSync(wd, { recursive: true, force: true });
  });

  it('answers one response envelope as application/json, echoing the id', async () => {
    const a = await rpc(h, 'system.ping', {}, 'req-7');
    assert.equal(a.status, 200);
    assert.match(String(a.headers['content-type']), /^application\/json/);
    assert.equal(a.json.id, 'req-7');
    assert.equal(a.json.ok, true);
    assert.equal(typeof a.json.data.uptime_s, 'number');
  });

  it('keeps an idle kept-alive connection for a minute, and tells the client (Keep-Alive: timeout=65)', async () => {
    const a = await rpc(h, 'system.ping', {}, 1, { Connection: 'keep-alive' });
    assert.equal(a.status, 200);
    assert.equal(a.headers.connection, 'keep-alive');
    assert.equal(a.headers['keep-alive'], 'timeout=65');
  });

  it('answers every protocol error with HTTP 200 and ok:false', async () => {
    const missing = await rpc(h, 'session.info', { session_id: 'nope' }, 2);
    assert.equal(missing.status, 200);
    assert.equal(missing.json.ok, false);
    assert.equal(missing.json.error.code, 'SESSION_NOT_FOUND');
    const unknown = await rpc(h, 'system.pong', {}, 3);
    assert.equal(unknown.status, 200);
    assert.equal(unknown.json.error.code, 'METHOD_NOT_FOUND');
    const typo = await rpc(h, 'exec.run', { comand: 'true' }, 4);
    assert.equal(typo.json.error.code, 'INVALID_PARAMS');
    const badJson = await request(`${h.url}/v1/rpc`, { method: 'POST', headers: { Authorization: `Bearer ${h.token}` }, body: '{"id": 1, "method": ' });
    assert.equal(badJson.status, 200);
    assert.equal(badJson.json.id, null);
    assert.equal(badJson.json.error.code, 'INVALID_PARAMS');
  });

  it('404 for an unknown path, 405 for a wrong method, 426 for /v1/ws without an upgrade', async () => {
    const auth = { Authorization: `Bearer ${h.token}` };
    const nf = await request(`${h.url}/v2/rpc`, { method: 'POST', headers: auth, body: '{}' });
    assert.equal(nf.status, 404);
    assert.equal(nf.json.ok, false);
    const get = await request(`${h.url}/v1/rpc`, { headers: auth });
    assert.equal(get.status, 405);
    assert.match(String(get.headers.allow), /POST/);
    const put = await request(`${h.url}/v1/rpc`, { method: 'PUT', headers: auth, body: '{}' });
    assert.equal(put.status, 405);
    const ws = await request(`${h.url}/v1/ws`, { headers: auth });
    assert.equal(ws.status, 426);
  });

  it('413 REQUEST_TOO_LARGE for a body over max_request_bytes, declared or chunked', async () => {
    const big = JSON.stringify({ id: 1, method: 'exec.run', params: { command: `echo ${'x'.repeat(5000)}` } });
    const headers = { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json' };
    for (const chunked of [false, true]) {
      const a = await request(`${h.url}/v1/rpc`, { method: 'POST', headers, body: big, chunked });
      assert.equal(a.status, 413, `chunked=${chunked}: ${a.body}`);
      assert.equal(a.json.ok, false);
      assert.equal(a.json.error.code, 'REQUEST_TOO_LARGE');
      assert.match(a.json.error.message, /max_request_bytes/);
    }
    // the limit is exact: a body just under it is served
    const fits = JSON.stringify({ id: 1, method: 'exec.run', params: { command: `echo ${'y'.repeat(3900)} | wc -c` } });
    assert.ok(Buffer.byteLength(fits) <= 4096);
    const ok = await request(`${h.url}/v1/rpc`, { method: 'POST', headers, body: fits });
    assert.equal(ok.json.ok, true, ok.body);
    assert.equal(ok.json.data.stdout.trim(), '3901');
  });

  const clients = [
    ['HTTP', () => TrlHttpClient.connect({ url: h.url, token: h.token })],
    ['WebSocket', () => TrlWsClient.connect({ url: h.url, token: h.token })],
  ] as const;
  for (const [transport, open] of clients)
    it(`every method works over ${transport} with the SDK client`, async () => {
      const c = await open();
      try {
        assert.equal((await c.call('system.info', {})).version, PROTOCOL_VERSION);
        assert.equal(typeof (await c.call('system.stats', {})).active_sessions, 'number');
        const s = await c.call('session.create', { name: 'http-one', env: { GREETING: 'hello' } });
        assert.equal(s.working_dir, wd);
        assert.ok((await c.call('session.list', {})).sessions.some((x) => x.session_id === s.session_id));
        assert.equal((await c.call('session.info', { session_id: s.session_id })).name, 'http-one');
        const run = await c.call('exec.run', { session_id: s.session_id, command: 'echo "$GREETING"; mkdir -p sub; cd sub; echo err >&2' });
        assert.equal(run.stdout, 'hello\n');
        assert.equal(run.stderr, 'err\n');
        assert.equal(run.exit_code, 0);
        assert.equal((await c.call('exec.run', { session_id: s.session_id, command: 'pwd' })).stdout.trim(), `${wd}/sub`, 'cwd persists across HTTP requests');
        await c.call('session.update', { session_id: s.session_id, working_dir: wd });
        const bg = await c.call('exec.start', { session_id: s.session_id, command: 'read line; echo "got $line"', stdin_open: true });
        await c.call('exec.input', { command_id: bg.command_id, data: 'ping\n', eof: true });
        const waited = await c.call('exec.wait', { command_id: bg.command_id, timeout_s: 5 });
        assert.equal(waited.stdout, 'got ping\n');
        assert.equal((await c.call('exec.output', { command_id: bg.command_id })).data, 'got ping\n');
        assert.equal((await c.call('exec.info', { command_id: bg.command_id })).state, 'exited');
        assert.ok((await c.call('exec.list', { session_id: s.session_id })).commands.length >= 3);
        const n = uniqueSleep();
        sleeps.push(n);
        const long = await c.call('exec.start', { session_id: s.session_id, command: `sleep ${n}` });
        await c.call('exec.signal', { command_id: long.command_id, signal: 'SIGTERM' });
        assert.equal((await c.call('exec.wait', { command_id: long.command_id, timeout_s: 5 })).signal, 'SIGTERM');
        const long2 = await c.call('exec.start', { session_id: s.session_id, command: `sleep ${n}` });
        await c.call('exec.cancel', { command_id: long2.command_id });
        const pty = await c.call('exec.start', { session_id: s.session_id, command: 'sleep 0.3; stty size', pty: { cols: 80, rows: 24 } });
        await c.call('exec.resize', { command_id: pty.command_id, cols: 100, rows: 30 });
        assert.match((await c.call('exec.wait', { command_id: pty.command_id, timeout_s: 5 })).stdout, /30 100/);
        const err = await c.call('exec.run', { session_id: 'no-such-session', command: 'true' }).catch((e: unknown) => e);
        assert.ok(err instanceof TrlClientError && err.code === 'SESSION_NOT_FOUND');
        assert.equal((await c.call('session.destroy', { session_id: s.session_id })).state, 'terminated');
      } finally {
        c.close();
      }
    });

  it('the CLI works over HTTP and WebSocket with --url and the token from TRL_AUTH_TOKEN', async () => {
    const env = { TRL_AUTH_TOKEN: h.token };
    for (const url of [h.url, h.url.replace(/^http/, 'ws')]) {
      const ping = await runCli(['ping', '--url', url], { env });
      assert.equal(ping.code, 0, ping.stderr);
      assert.match(ping.stdout, /pong/);
      const sid = (await runCli(['session', 'create', '--url', url], { env })).stdout.trim();
      const run = await runCli(['exec', '--url', url, '-s', sid, '--', 'echo out; echo err >&2; exit 3'], { env });
      assert.deepEqual([run.code, run.stdout, run.stderr], [3, 'out\n', 'err\n']);
      assert.equal((await runCli(['session', 'rm', '--url', url, sid], { env })).code, 0);
    }
    const refused = await runCli(['ping', '--url', h.url], { env: { TRL_AUTH_TOKEN: h.token.slice(0, -1) + (h.token.endsWith('a') ? 'b' : 'a') } });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /AUTH_FAILED/);
  });

  it('exec.stream answers NDJSON: the response, then each event as it happens, ending after exit', async () => {
    // the command prints b only once the test has seen a: a body buffered until the end would hang
    const gate = path.join(wd, 'stream-gate');
    const s = await rpcStream(h, 'exec.stream', { command: `echo a; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo b` }, 'st-1');
    assert.equal(s.status, 200);
    assert.match(String(s.headers['content-type']), /^application\/x-ndjson/);
    const early = await s.waitLines(2);
    assert.equal(early[1]!.msg.event, 'stdout', `the second line is not the first output: ${JSON.stringify(early[1]!.msg)}`);
    assert.equal(early[1]!.msg.data, 'a\n');
    fs.writeFileSync(gate, '');
    const lines = await s.done;
    assert.equal(await s.ended, true, 'the body must end after the exit event');
    const [first, ...events] = lines;
    assert.equal(first!.msg.id, 'st-1');
    assert.equal(first!.msg.ok, true);
    const { stream_id: streamId, command_id: commandId } = first!.msg.data;
    assert.ok(events.every((e) => e.msg.stream_id === streamId));
    const out = events.filter((e) => e.msg.event === 'stdout');
    assert.equal(out.map((e) => e.msg.data).join(''), 'a\nb\n');
    const exit = events.at(-1)!;
    assert.equal(exit.msg.event, 'exit');
    assert.equal(exit.msg.data.exit_code, 0);
    assert.equal(exit.msg.data.command_id, commandId);
    const firstData = out[0]!;
    assert.equal(firstData.msg.data, 'a\n');
  });

  it('a stream that cannot open answers one JSON envelope', async () => {
    const s = await rpcStream(h, 'exec.stream', { session_id: 'nope', command: 'true' }, 9);
    const lines = await s.done;
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.msg.ok, false);
    assert.equal(lines[0]!.msg.error.code, 'SESSION_NOT_FOUND');
  });

  it('streams with the SDK client; exec.attach replays from an offset', async () => {
    const c = await TrlHttpClient.connect({ url: h.url, token: h.token });
    try {
      const st = await c.stream('exec.stream', { command: 'printf one; sleep 0.2; printf two >&2; exit 3' });
      const seen: string[] = [];
      let exitCode: unknown;
      for await (const ev of st.events) {
        if (ev.event === 'exit') exitCode = (ev.data as { exit_code: number }).exit_code;
        else seen.push(`${ev.event}:${String(ev.data)}`);
      }
      assert.deepEqual(seen, ['stdout:one', 'stderr:two']);
      assert.equal(exitCode, 3);
      const again = await c.stream('exec.attach', { command_id: st.command_id, from_offset: { stdout: 1, stderr: 0 } });
      const replay: string[] = [];
      for await (const ev of again.events) if (ev.event !== 'exit') replay.push(`${ev.event}:${String(ev.data)}`);
      assert.deepEqual(replay.sort(), ['stderr:two', 'stdout:ne']);
    } finally {
      c.close();
    }
  });

  it('a client that goes away mid-stream does not stop the command', async () => {
    const c = await TrlHttpClient.connect({ url: h.url, token: h.token });
    try {
      const s = await c.call('session.create', {});
      const st = await rpcStream(h, 'exec.stream', { session_id: s.session_id, command: 'echo start; sleep 1; echo done; exit 4' });
      await st.waitLines(2);
      const commandId = st.lines[0]!.msg.data.command_id as string;
      assert.equal(st.lines[1]!.msg.data, 'start\n');
      st.abort();
      const result = await c.call('exec.wait', { command_id: commandId, timeout_s: 10 });
      assert.equal(result.exit_code, 4);
      assert.equal(result.stdout, 'start\ndone\n');
      // and the session is usable again once it ended
      assert.equal((await c.call('exec.run', { session_id: s.session_id, command: 'echo next' })).stdout, 'next\n');
    } finally {
      c.close();
    }
  });

  it('connectTrl picks the transport from the options', async () => {
    const viaHttp = await connectTrl({ url: h.url, token: h.token });
    assert.ok(viaHttp instanceof TrlHttpClient);
    assert.equal((await viaHttp.call('exec.run', { command: 'echo x' })).stdout, 'x\n');
    viaHttp.close();
    const viaWs = await connectTrl({ url: h.url.replace(/^http/, 'ws'), token: h.token });
    assert.ok(viaWs instanceof TrlWsClient);
    assert.equal((await viaWs.call('exec.run', { command: 'echo y' })).stdout, 'y\n');
    viaWs.close();
    const viaSocket = await connectTrl({ socketPath: h.d.socketPath });
    assert.equal((await viaSocket.call('system.ping', {})).version.length > 0, true);
    viaSocket.close();
  });
});

describe('max_streams_per_client', () => {
  const h = useHttpDaemon({ flags: ['--max-streams-per-client', '2', '--kill-grace-s', '1'] });
  const sleeps: number[] = [];
  afterEach(() => killSleeps(sleeps));

  it('caps open HTTP streams per client address with RESOURCE_PRESSURE naming the setting; an ended stream frees its slot', async () => {
    const n = uniqueSleep();
    sleeps.push(n);
    const a = await rpcStream(h, 'exec.stream', { command: `echo a; sleep ${n}` }, 'a');
    const b = await rpcStream(h, 'exec.stream', { command: `echo b; sleep ${n}` }, 'b');
    await a.waitLines(2);
    await b.waitLines(2);
    const before = (await rpc(h, 'system.stats')).json.data.total_commands_run;
    const third = await rpc(h, 'exec.stream', { command: 'echo c' }, 'c');
    assert.equal(third.status, 200);
    assert.equal(third.json.id, 'c');
    assert.equal(third.json.ok, false);
    assert.equal(third.json.error.code, 'RESOURCE_PRESSURE');
    assert.match(third.json.error.message, /max_streams_per_client/);
    assert.equal((await rpc(h, 'system.stats')).json.data.total_commands_run, before, 'a refused stream must not start its command');
    // non-streaming calls are not capped
    assert.equal((await rpc(h, 'exec.run', { command: 'echo fine' })).json.data.stdout, 'fine\n');
    // cancel one: its exit event ends its response and frees the slot
    await rpc(h, 'exec.cancel', { command_id: a.lines[0]!.msg.data.command_id });
    assert.equal(await a.ended, true);
    const fourth = await rpcStream(h, 'exec.stream', { command: 'echo d' }, 'd');
    const lines = await fourth.done;
    assert.equal(lines[0]!.msg.ok, true, JSON.stringify(lines[0]!.msg));
    // a client that goes away frees its slot too
    b.abort();
    const twoOpen = async () => {
      const pair = await Promise.all([rpcStream(h, 'exec.stream', { command: 'sleep 0.3' }), rpcStream(h, 'exec.stream', { command: 'sleep 0.3' })]);
      const firsts = await Promise.all(pair.map(async (p) => (await p.done)[0]!.msg));
      return firsts.every((m) => m.ok === true);
    };
    assert.ok(await waitFor(twoOpen), 'the slot of a client that disconnected was not freed');
  });

  it('caps open streams per WebSocket, independently of other sockets', async () => {
    const n = uniqueSleep();
    sleeps.push(n);
    const ws = await openWs(h, { token: h.token });
    const other = await openWs(h, { token: h.token });
    try {
      ws.send({ id: 1, method: 'exec.stream', params: { command: `sleep ${n}` } });
      ws.send({ id: 2, method: 'exec.stream', params: { command: `sleep ${n}` } });
      const r1 = await ws.nextWhere((m) => m.id === 1);
      const r2 = await ws.nextWhere((m) => m.id === 2);
      assert.equal(r1.ok && r2.ok, true);
      ws.send({ id: 3, method: 'exec.stream', params: { command: 'echo x' } });
      const r3 = await ws.nextWhere((m) => m.id === 3);
      assert.equal(r3.ok, false);
      assert.equal(r3.error.code, 'RESOURCE_PRESSURE');
      assert.match(r3.error.message, /max_streams_per_client/);
      other.send({ id: 1, method: 'exec.stream', params: { command: 'echo other' } });
      assert.equal((await other.nextWhere((m) => m.id === 1)).ok, true, 'another WebSocket has its own slots');
      await other.nextWhere((m) => m.event === 'exit');
      ws.send({ id: 4, method: 'exec.cancel', params: { command_id: r1.data.command_id } });
      await ws.nextWhere((m) => m.event === 'exit' && m.stream_id === r1.data.stream_id);
      ws.send({ id: 5, method: 'exec.stream', params: { command: 'echo again' } });
      assert.equal((await ws.nextWhere((m) => m.id === 5)).ok, true, 'the slot of an ended stream is free again');
      ws.send({ id: 6, method: 'exec.cancel', params: { command_id: r2.data.command_id } });
      await ws.nextWhere((m) => m.id === 6);
    } finally {
      ws.close();
      other.close();
    }
  });
});

describe('HTTPS', () => {
  let h: HttpDaemon;
  let dir: string;
  let ca: Buffer;
  before(async () => {
    dir = makeTempDir();
    const tls = selfSignedCert(dir);
    ca = tls.certPem;
    h = await startHttpDaemon({ flags: ['--tls-cert', tls.cert, '--tls-key', tls.key] });
  });
  after(async () => {
    await h?.d.shutdownClean();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the given certificate, and no plain HTTP on that port', async () => {
    assert.match(h.url, /^https:\/\//);
    const a = await rpc(h, 'exec.run', { command: 'echo secure' }, 1, {}, ca);
    assert.equal(a.json.data.stdout, 'secure\n');
    const st = await rpcStream(h, 'exec.stream', { command: 'echo s' }, 2, ca);
    const lines = await st.done;
    assert.equal(lines.at(-1)!.msg.event, 'exit');
    await assert.rejects(request(h.url.replace('https:', 'http:') + '/v1/rpc', { method: 'POST', body: '{}' }));
    await assert.rejects(rpc(h, 'system.ping'), /self[- ]signed|certificate/i, 'an untrusted certificate must be refused by default');
  });

  it('the SDK clients take a CA; WSS works on the same port', async () => {
    const c = await TrlHttpClient.connect({ url: h.url, token: h.token, ca });
    assert.equal((await c.call('system.ping', {})).version.length > 0, true);
    c.close();
    await assert.rejects(TrlHttpClient.connect({ url: h.url, token: h.token }), (e: unknown) => e instanceof TrlClientError && e.code === 'CONNECTION_CLOSED');
    const ws = await TrlWsClient.connect({ url: h.url.replace('https:', 'wss:'), token: h.token, ca });
    const st = await ws.stream('exec.stream', { command: 'echo over-wss' });
    let out = '';
    for await (const ev of st.events) if (ev.event === 'stdout') out += String(ev.data);
    assert.equal(out, 'over-wss\n');
    ws.close();
  });
});

describe('HTTP only', () => {
  it('TRL_UNIX_SOCKET=0 serves HTTP without creating the socket, and shuts down cleanly', async () => {
    const h = await startHttpDaemon({ unixSocket: false });
    try {
      assert.equal(fs.existsSync(h.d.socketPath), false, 'the Unix socket exists though unix_socket is off');
      assert.equal((await rpc(h, 'exec.run', { command: 'echo only-http' })).json.data.stdout, 'only-http\n');
      assert.ok(fs.existsSync(`${h.d.socketPath}.daemon.json`), 'the daemon record (for crash reaping) is still written');
    } finally {
      await h.d.shutdownClean();
    }
  });

  it('SIGTERM ends open streams and exits 0', async () => {
    const h = await startHttpDaemon();
    const n = uniqueSleep();
    try {
      const st = await rpcStream(h, 'exec.stream', { command: `echo go; sleep ${n}` });
      await st.waitLines(2);
      const ws = await openWs(h, { token: h.token });
      assert.equal(await h.d.stop(), 0, h.d.stderr().slice(-3000));
      await st.ended;
      await ws.closed;
    } finally {
      killSleeps([n]);
      await h.d.dispose();
    }
  });
});
