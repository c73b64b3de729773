/**
 * The raw byte route (docs/protocol.md): a command's output as raw bytes, no
 * JSON, as it is produced — `GET /v1/sessions/{sid}/commands/{cid}/output`
 * over HTTP and `exec.pipe` on the Unix socket. Byte-exact with random binary
 * data, from offsets and past a dropped middle, behind the bearer token,
 * redacted like every other way out (a secret split across writes, so across
 * the route's chunks, included), back-pressure for a slow reader and bounded
 * memory for one that stopped, and a client going away mid-stream.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type TrlClient } from './helpers/client.js';
import { makeTempDir } from './helpers/daemon.js';
import { useHttpDaemon } from './helpers/fixture.js';
import { MiB, RssSampler } from './helpers/memory.js';
import { sha256File } from './helpers/streams.js';
import { waitFor } from './helpers/wait.js';

const RSS_LIMIT = 200 * 1000 * 1000;
const SECRET = 'rawS3cr3t-0123456789-abcdef';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  trailers: NodeJS.Dict<string>;
  body: Buffer;
}

/** One GET of the raw route (or another method/path); the whole body and the trailers. */
function rawGet(port: number, urlPath: string, headers: Record<string, string>, method = 'GET', onResponse?: () => void): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, headers, agent: false }, (res) => {
      onResponse?.();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** exec.pipe on a fresh connection: its answer line and every raw byte until the daemon ends the connection. */
function unixPipe(socketPath: string, params: Record<string, unknown>, onAnswer?: () => void): Promise<{ answer: Record<string, any>; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let head = Buffer.alloc(0);
    let answer: Record<string, any> | null = null;
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      if (answer) return void chunks.push(d);
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(0x0a);
      if (nl < 0) return;
      answer = JSON.parse(head.subarray(0, nl).toString()) as Record<string, any>;
      chunks.push(head.subarray(nl + 1));
      onAnswer?.();
    });
    s.on('error', reject);
    s.on('close', () => (answer ? resolve({ answer, bytes: Buffer.concat(chunks) }) : reject(new Error('the connection closed before the answer'))));
    s.write(JSON.stringify({ id: 1, method: 'exec.pipe', params }) + '\n');
  });
}

describe('raw output route', () => {
  const h = useHttpDaemon();
  let c: TrlClient;
  let sid: string;
  let tmp: string;
  const auth = () => ({ Authorization: `Bearer ${h.token}` });
  const outputPath = (cid: string, query = '', session = sid) => `/v1/sessions/${session}/commands/${cid}/output${query}`;

  /** Start a command that waits on its stdin before `producer` runs, so that a reader can attach before any byte exists. */
  async function startHeld(producer: string, extra: Record<string, unknown> = {}) {
    const r = await c.call('exec.start', { session_id: sid, command: `read _ || true; ${producer}`, stdin_open: true, timeout_s: 120, ...extra });
    return { cid: r.command_id, release: () => c.call('exec.input', { command_id: r.command_id, eof: true }) };
  }

  before(async () => {
    c = await connect(h.d);
    tmp = makeTempDir('/tmp/trl-raw-');
    sid = (await c.call('session.create', { env: { API_TOKEN: SECRET } })).session_id;
  });
  after(() => {
    c.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('HTTP: 20 MiB of random bytes arrive byte-exact, as they are produced, ending with the eof trailer', async () => {
    const file = path.join(tmp, 'http.bin');
    const held = await startHeld(`head -c ${20 * MiB} /dev/urandom | tee ${file}`);
    // The GET attaches before the bytes exist: the command is let go once the answer has begun.
    const r = await rawGet(h.port, outputPath(held.cid), auth(), 'GET', () => void held.release());
    assert.equal(r.status, 200, r.body.toString().slice(0, 500));
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['x-trl-offset'], '0');
    assert.equal(r.headers['x-trl-command-id'], held.cid);
    assert.equal(r.body.length, 20 * MiB);
    assert.equal(createHash('sha256').update(r.body).digest('hex'), sha256File(file), 'the raw bytes differ from what the command wrote');
    assert.equal(r.trailers['x-trl-end'], 'eof');
    assert.equal(r.trailers['x-trl-next-offset'], String(20 * MiB));
  });

  it('Unix: exec.pipe answers one line, then the connection carries the raw bytes exactly and closes at the end', async () => {
    const file = path.join(tmp, 'unix.bin');
    const held = await startHeld(`head -c ${20 * MiB} /dev/urandom | tee ${file}`);
    const r = await unixPipe(h.d.socketPath, { command_id: held.cid }, () => void held.release());
    assert.equal(r.answer['ok'], true, JSON.stringify(r.answer));
    assert.deepEqual(r.answer['data'], { command_id: held.cid, stream: 'stdout', offset: 0, dropped_bytes: 0 });
    assert.equal(r.bytes.length, 20 * MiB);
    assert.equal(createHash('sha256').update(r.bytes).digest('hex'), sha256File(file));
  });

  it('reads stderr, from an offset, only what is there with follow=0, and past a dropped middle says what was skipped', async () => {
    const done = await c.call('exec.run', { session_id: sid, command: 'printf 0123456789; printf abcdef >&2' });
    const from4 = await rawGet(h.port, outputPath(done.command_id, '?offset=4'), auth());
    assert.equal(from4.body.toString(), '456789');
    assert.equal(from4.headers['x-trl-offset'], '4');
    const err = await rawGet(h.port, outputPath(done.command_id, '?stream=stderr&offset=2'), auth());
    assert.equal(err.body.toString(), 'cdef');
    const unixErr = await unixPipe(h.d.socketPath, { command_id: done.command_id, stream: 'stderr', offset: 1 });
    assert.equal(unixErr.bytes.toString(), 'bcdef');

    const running = await c.call('exec.start', { session_id: sid, command: 'printf ready; sleep 600', timeout_s: 0 });
    await waitFor(async () => (await c.call('exec.info', { command_id: running.command_id })).stdout_bytes === 5);
    const now = await rawGet(h.port, outputPath(running.command_id, '?follow=0'), auth());
    assert.equal(now.body.toString(), 'ready');
    assert.equal(now.trailers['x-trl-end'], 'now');
    await c.call('exec.cancel', { command_id: running.command_id });

    // 1 MiB kept of 4 MiB: 512 KiB head, 512 KiB tail.
    const cut = await c.call('exec.run', { session_id: sid, command: `head -c ${4 * MiB} /dev/zero`, max_output_bytes: MiB });
    const mid = await rawGet(h.port, outputPath(cut.command_id, `?offset=${MiB}`), auth());
    assert.equal(mid.headers['x-trl-offset'], String(3.5 * MiB));
    assert.equal(mid.headers['x-trl-dropped-bytes'], String(2.5 * MiB));
    assert.equal(mid.body.length, MiB / 2);
    const all = await rawGet(h.port, outputPath(cut.command_id), auth());
    assert.equal(all.body.length, MiB / 2, 'a read from 0 ends where the dropped middle begins');
    assert.equal(all.trailers['x-trl-end'], 'gap');
    assert.equal(all.trailers['x-trl-next-offset'], String(MiB / 2));
  });

  it('needs the bearer token, a command of that session, GET, and a known stream', async () => {
    const done = await c.call('exec.run', { session_id: sid, command: 'printf private' });
    const none = await rawGet(h.port, outputPath(done.command_id), {});
    assert.equal(none.status, 401);
    assert.ok(!none.body.includes('private'));
    const wrong = await rawGet(h.port, outputPath(done.command_id), { Authorization: `Bearer ${'x'.repeat(64)}` });
    assert.equal(wrong.status, 401);
    assert.ok(!wrong.body.includes('private'));
    const other = (await c.call('session.create', {})).session_id;
    const elsewhere = await rawGet(h.port, outputPath(done.command_id, '', other), auth());
    assert.equal(elsewhere.status, 404);
    assert.equal(JSON.parse(elsewhere.body.toString()).error.code, 'COMMAND_NOT_FOUND');
    const unknown = await rawGet(h.port, outputPath('no-such-command'), auth());
    assert.equal(unknown.status, 404);
    const post = await rawGet(h.port, outputPath(done.command_id), auth(), 'POST');
    assert.equal(post.status, 405);
    const bad = await rawGet(h.port, outputPath(done.command_id, '?stream=stdin'), auth());
    assert.equal(bad.status, 400);
    await c.call('session.destroy', { session_id: other });
  });

  it('exec.pipe must open its connection, and is refused over HTTP rpc', async () => {
    const done = await c.call('exec.run', { session_id: sid, command: 'printf x' });
    const second = await new Promise<string>((resolve, reject) => {
      const s = net.connect(h.d.socketPath);
      let text = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        text += d;
        if (text.split('\n').length > 2) {
          s.destroy();
          resolve(text);
        }
      });
      s.on('error', reject);
      s.write(JSON.stringify({ id: 1, method: 'system.ping' }) + '\n' + JSON.stringify({ id: 2, method: 'exec.pipe', params: { command_id: done.command_id } }) + '\n');
    });
    const answers = second
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number; ok: boolean; error?: { code: string } });
    assert.equal(answers.find((a) => a.id === 2)?.error?.code, 'INVALID_PARAMS');
    const overHttp = await new Promise<string>((resolve, reject) => {
      const body = JSON.stringify({ id: 3, method: 'exec.pipe', params: { command_id: done.command_id } });
      const req = http.request(
        { host: '127.0.0.1', port: h.port, path: '/v1/rpc', method: 'POST', headers: { ...auth(), 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
        (res) => {
          let t = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (t += d));
          res.on('end', () => resolve(t));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.match(overHttp, /"code":"INVALID_PARAMS"/);
    assert.match(overHttp, /output/);
  });

  it('redacts a secret split across two writes (so across the route chunks) on both routes', async () => {
    const print = `printf 'before '; printf %s "$API_TOKEN" | head -c 9; sleep 0.3; printf %s "$API_TOKEN" | tail -c +10; printf ' after'`;
    const viaHttp = await startHeld(print);
    const httpAnswer = rawGet(h.port, outputPath(viaHttp.cid), auth(), 'GET', () => void viaHttp.release());
    const viaUnix = await startHeld(print);
    const unixAnswer = unixPipe(h.d.socketPath, { command_id: viaUnix.cid }, () => void viaUnix.release());
    for (const body of [(await httpAnswer).body, (await unixAnswer).bytes]) {
      assert.equal(body.toString(), 'before [REDACTED] after');
      assert.ok(!body.includes(SECRET.slice(0, 9)), 'a piece of the secret came through');
    }
  });

  it('a slow reader holds the command back (every byte arrives, no gap); one that stopped does not, and memory stays bounded', async () => {
    const pid = (await c.call('system.info', {})).pid;
    const sampler = new RssSampler(pid, 20);
    try {
      // Slow: reads 1 MiB, pauses 100 ms (far under the 1 s after which a reader counts as stopped, even on a starved machine), and so on.
      const slow = await startHeld(`head -c ${24 * MiB} /dev/zero`);
      let got = 0;
      const slowDone = new Promise<{ got: number; end: string | undefined }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: h.port, path: outputPath(slow.cid), headers: auth(), agent: false }, (res) => {
          void slow.release();
          let sincePause = 0;
          res.on('data', (d: Buffer) => {
            got += d.length;
            sincePause += d.length;
            if (sincePause >= MiB) {
              sincePause = 0;
              res.pause();
              setTimeout(() => res.resume(), 100);
            }
          });
          res.on('end', () => resolve({ got, end: res.trailers['x-trl-end'] }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      const slowResult = await slowDone;
      assert.equal(slowResult.got, 24 * MiB, 'a reader that keeps reading must get every byte');
      assert.equal(slowResult.end, 'eof');

      // Stopped: reads the answer, then nothing while the command prints 256 MiB.
      const stopped = await startHeld(`yes | head -c ${256 * MiB}`);
      const s = net.connect(h.d.socketPath);
      let received = -1;
      const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
      s.on('data', (d: Buffer) => {
        if (received < 0) {
          received = d.length - d.indexOf(0x0a) - 1;
          s.pause();
          void stopped.release();
        } else received += d.length;
      });
      s.write(JSON.stringify({ id: 1, method: 'exec.pipe', params: { command_id: stopped.cid } }) + '\n');
      assert.ok(await waitFor(async () => (await c.call('exec.info', { command_id: stopped.cid })).state !== 'running'), 'the command must run to its end although its reader stopped');
      s.resume();
      await closed;
      assert.ok(received < 256 * MiB, `the stopped reader received ${received} bytes: the dropped middle cannot have been sent`);
      const resumed = await unixPipe(h.d.socketPath, { command_id: stopped.cid, offset: received, follow: false });
      assert.ok(resumed.answer['data'].dropped_bytes > 0, 'resuming past the lost bytes says how many are gone');
      assert.equal(resumed.answer['data'].offset, received + resumed.answer['data'].dropped_bytes);
    } finally {
      const peak = sampler.stop();
      assert.ok(peak < RSS_LIMIT, `daemon RSS peaked at ${(peak / MiB).toFixed(0)} MiB`);
    }
  });

  it('a client that goes away mid-stream stops its stream, not the command, and frees its slot', async () => {
    const held = await startHeld(`head -c ${64 * MiB} /dev/zero; echo done >&2`);
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: h.port, path: outputPath(held.cid), headers: auth(), agent: false }, (res) => {
        void held.release().catch(reject);
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.end();
    });
    const w = await c.call('exec.wait', { command_id: held.cid, timeout_s: 60 });
    assert.equal(w.exit_code, 0);
    assert.equal(w.stderr, 'done\n');
    // Streams per client are capped: many more reads than the cap all get their answer.
    for (let i = 0; i < 20; i++) {
      const r = await rawGet(h.port, outputPath(held.cid, `?offset=${64 * MiB - 3}`), auth());
      assert.equal(r.status, 200);
      assert.equal(r.body.length, 3);
    }
  });
});
