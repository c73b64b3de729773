/**
 * The WebSocket transport (PROTOCOL §1): GET /v1/ws with the bearer token on
 * the upgrade, then each text frame carries exactly one NDJSON line of the
 * Unix socket protocol in both directions — pipelined requests answered by
 * id, events of the streams opened on that socket, interactive stdin, the
 * request size cap. A real daemon and real WebSockets.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { TrlWsClient } from '../src/client/ws-client.js';
import { TrlClientError } from '../src/client/client-error.js';
import { openWs } from './helpers/http.js';
import { killSleeps, uniqueSleep } from './helpers/processes.js';
import { useHttpDaemon } from './helpers/fixture.js';

describe('GET /v1/ws', () => {
  const h = useHttpDaemon({ flags: ['--max-request-bytes', '4096', '--kill-grace-s', '1'] });
  const sleeps: number[] = [];
  afterEach(() => killSleeps(sleeps));

  it('answers pipelined requests by id, one JSON message per text frame', async () => {
    const ws = await openWs(h, { token: h.token });
    try {
      const frames: Array<{ data: string; binary: boolean }> = [];
      ws.ws.on('message', (data, binary) => frames.push({ data: data.toString(), binary }));
      for (let i = 0; i < 20; i++) ws.send({ id: i, method: i % 2 ? 'system.ping' : 'exec.run', params: i % 2 ? {} : { command: `echo ${i}` } });
      const answers = new Map<number, any>();
      for (let i = 0; i < 20; i++) {
        const m = await ws.next();
        answers.set(m.id, m);
      }
      for (let i = 0; i < 20; i++) {
        const m = answers.get(i);
        assert.equal(m?.ok, true, `id ${i}: ${JSON.stringify(m)}`);
        if (i % 2 === 0) assert.equal(m.data.stdout, `${i}\n`);
      }
      assert.ok(
        frames.every((f) => !f.binary && !f.data.includes('\n') && JSON.parse(f.data)),
        'every frame is text holding one JSON object',
      );
    } finally {
      ws.close();
    }
  });

  it('session.create, exec.run and exec.stream: the first event arrives before the command ends', async () => {
    const ws = await openWs(h, { token: h.token });
    try {
      ws.send({ id: 'c', method: 'session.create', params: { env: { WHO: 'ws' } } });
      const s = await ws.nextWhere((m) => m.id === 'c');
      assert.equal(s.ok, true);
      const sid = s.data.session_id;
      ws.send({ id: 'r', method: 'exec.run', params: { session_id: sid, command: 'echo "hi $WHO"; export LATER=1' } });
      assert.equal((await ws.nextWhere((m) => m.id === 'r')).data.stdout, 'hi ws\n');
      ws.send({ id: 's', method: 'exec.stream', params: { session_id: sid, command: 'echo a; sleep 1; echo "b$LATER"' } });
      const opened = await ws.nextWhere((m) => m.id === 's');
      assert.equal(opened.ok, true);
      const streamId = opened.data.stream_id;
      const first = await ws.nextWhere((m) => m.stream_id === streamId);
      const firstAt = Date.now();
      assert.equal(first.event, 'stdout');
      assert.equal(first.data, 'a\n');
      const second = await ws.nextWhere((m) => m.stream_id === streamId);
      assert.equal(second.data, 'b1\n');
      const exit = await ws.nextWhere((m) => m.stream_id === streamId);
      assert.equal(exit.event, 'exit');
      assert.equal(exit.data.exit_code, 0);
      assert.ok(Date.now() - firstAt >= 700, `the first event came only ${Date.now() - firstAt} ms before the end`);
      ws.send({ id: 'd', method: 'session.destroy', params: { session_id: sid } });
      assert.equal((await ws.nextWhere((m) => m.id === 'd')).data.state, 'terminated');
    } finally {
      ws.close();
    }
  });

  it('carries two streams at once on one socket, each event tagged with its stream', async () => {
    const ws = await openWs(h, { token: h.token });
    try {
      ws.send({ id: 1, method: 'exec.stream', params: { command: 'for i in 1 2 3; do echo one$i; sleep 0.05; done' } });
      ws.send({ id: 2, method: 'exec.stream', params: { command: 'for i in 1 2 3; do echo two$i; sleep 0.05; done' } });
      const a = await ws.nextWhere((m) => m.id === 1);
      const b = await ws.nextWhere((m) => m.id === 2);
      const text = { [a.data.stream_id]: '', [b.data.stream_id]: '' };
      let exits = 0;
      while (exits < 2) {
        const ev = await ws.nextWhere((m) => typeof m.stream_id === 'string');
        if (ev.event === 'exit') exits++;
        else text[ev.stream_id] += ev.data;
      }
      assert.equal(text[a.data.stream_id], 'one1\none2\none3\n');
      assert.equal(text[b.data.stream_id], 'two1\ntwo2\ntwo3\n');
    } finally {
      ws.close();
    }
  });

  it('drives an interactive command: exec.start, exec.attach, exec.input', async () => {
    const ws = await openWs(h, { token: h.token });
    try {
      ws.send({ id: 1, method: 'exec.start', params: { command: 'while read l; do echo "echo:$l"; done', stdin_open: true } });
      const started = await ws.nextWhere((m) => m.id === 1);
      ws.send({ id: 2, method: 'exec.attach', params: { command_id: started.data.command_id } });
      const att = await ws.nextWhere((m) => m.id === 2);
      ws.send({ id: 3, method: 'exec.input', params: { command_id: started.data.command_id, data: 'hello\n' } });
      const ev = await ws.nextWhere((m) => m.stream_id === att.data.stream_id);
      assert.equal(ev.data, 'echo:hello\n');
      ws.send({ id: 4, method: 'exec.input', params: { command_id: started.data.command_id, eof: true } });
      const exit = await ws.nextWhere((m) => m.stream_id === att.data.stream_id && m.event === 'exit');
      assert.equal(exit.data.exit_code, 0);
    } finally {
      ws.close();
    }
  });

  it('answers a bad message and keeps the socket open', async () => {
    const ws = await openWs(h, { token: h.token });
    try {
      ws.send('{not json');
      const bad = await ws.next();
      assert.equal(bad.id, null);
      assert.equal(bad.error.code, 'INVALID_PARAMS');
      ws.send({ id: 5, method: 'nope.nope' });
      assert.equal((await ws.next()).error.code, 'METHOD_NOT_FOUND');
      ws.send({ id: 6, method: 'system.ping' });
      assert.equal((await ws.next()).ok, true);
    } finally {
      ws.close();
    }
  });

  it('a frame over max_request_bytes is answered REQUEST_TOO_LARGE, then the socket is closed', async () => {
    for (const size of [5000, 10 * 1024 * 1024]) {
      const ws = await openWs(h, { token: h.token });
      ws.send(JSON.stringify({ id: 1, method: 'exec.run', params: { command: `echo ${'x'.repeat(size)}` } }));
      const answer = await ws.next();
      assert.equal(answer.ok, false);
      assert.equal(answer.error.code, 'REQUEST_TOO_LARGE');
      assert.match(answer.error.message, /max_request_bytes/);
      const closed = await ws.closed;
      assert.equal(closed.code, 1009);
    }
    // a frame that fits is served
    const ok = await openWs(h, { token: h.token });
    ok.send({ id: 1, method: 'exec.run', params: { command: `echo ${'y'.repeat(3900)} | wc -c` } });
    assert.equal((await ok.next()).data.stdout.trim(), '3901');
    ok.close();
  });

  it('closing the socket mid-stream does not stop the command', async () => {
    const n = uniqueSleep();
    sleeps.push(n);
    const ws = await openWs(h, { token: h.token });
    ws.send({ id: 1, method: 'exec.stream', params: { command: 'echo start; sleep 1; echo done; exit 5' } });
    const opened = await ws.nextWhere((m) => m.id === 1);
    await ws.nextWhere((m) => m.stream_id === opened.data.stream_id);
    ws.ws.terminate();
    const c = await TrlWsClient.connect({ url: h.url, token: h.token });
    try {
      const result = await c.call('exec.wait', { command_id: opened.data.command_id as string, timeout_s: 10 });
      assert.equal(result.exit_code, 5);
      assert.equal(result.stdout, 'start\ndone\n');
    } finally {
      c.close();
    }
  });

  it('the SDK WebSocket client: calls, streams, and a refused token', async () => {
    const c = await TrlWsClient.connect({ url: h.url.replace('http:', 'ws:'), token: h.token });
    try {
      const [a, b] = await Promise.all([c.call('exec.run', { command: 'echo 1' }), c.call('exec.run', { command: 'echo 2' })]);
      assert.equal(a.stdout + b.stdout, '1\n2\n');
      const st = await c.stream('exec.stream', { command: 'echo s1; echo s2 >&2' });
      const seen: string[] = [];
      for await (const ev of st.events) seen.push(ev.event === 'exit' ? 'exit' : `${ev.event}:${String(ev.data)}`);
      assert.deepEqual(
        seen.filter((s) => s.startsWith('stdout')),
        ['stdout:s1\n'],
      );
      assert.equal(seen.at(-1), 'exit');
    } finally {
      c.close();
    }
    await assert.rejects(TrlWsClient.connect({ url: h.url, token: 'f'.repeat(64) }), (e: unknown) => e instanceof TrlClientError && e.code === 'AUTH_FAILED');
  });

  it('answers 404 for an upgrade on another path', async () => {
    const err = (await openWs(h, { token: h.token, path: '/v1/other' }).then(
      () => assert.fail('upgrade succeeded'),
      (e: unknown) => e,
    )) as { status?: number };
    assert.equal(err.status, 404);
    const anonymous = (await openWs(h, { path: '/v1/other' }).then(
      () => assert.fail('upgrade succeeded'),
      (e: unknown) => e,
    )) as { status?: number };
    assert.equal(anonymous.status, 401, 'the token is checked before the path');
  });
});
