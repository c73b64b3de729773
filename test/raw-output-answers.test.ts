/**
 * exec.run's and exec.wait's `raw_output`: the output as raw bytes after the
 * answer's line. On the wire: the line says how many bytes follow (stdout's,
 * then stderr's), they are exactly the output, and the next answers follow
 * them, pipelined or not. Through the SDK (which asks for it on the Unix
 * socket): every result is the one the JSON would have carried, for text,
 * invalid UTF-8, a dropped middle and base64. Secrets are redacted in the
 * bytes as everywhere. Over HTTP and WebSocket the parameter is refused
 * before anything runs; over stdio (`trl rpc`) it works as on the socket.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { TrlWsClient } from '../src/client/ws-client.js';
import { connect } from './helpers/client.js';
import { cleanEnv, exitOf, MAIN_JS, makeTempDir } from './helpers/daemon.js';
import { useHttpDaemon } from './helpers/fixture.js';
import { newSecret } from './helpers/secrets.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

/** One message from the daemon: its line, parsed, and the raw bytes that followed it (raw_output answers). */
interface Frame {
  msg: any;
  bytes?: Buffer;
}

/** Reads the daemon's bytes as they come: lines, and after a line announcing raw_output, its bytes. */
class FrameReader {
  readonly frames: Frame[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private left = 0;
  private current: Frame | null = null;
  private parts: Buffer[] = [];

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.current) {
        const n = Math.min(this.left, this.buf.length);
        this.parts.push(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.left -= n;
        if (this.left > 0) return;
        this.current.bytes = Buffer.concat(this.parts);
        this.frames.push(this.current);
        this.current = null;
        this.parts = [];
      }
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) return;
      const msg = JSON.parse(this.buf.subarray(0, nl).toString('utf8'));
      this.buf = this.buf.subarray(nl + 1);
      const raw = msg.data?.raw_output as { stdout: number; stderr: number } | undefined;
      if (raw === undefined) this.frames.push({ msg });
      else {
        this.current = { msg };
        this.left = raw.stdout + raw.stderr;
      }
    }
  }

  async answer(id: number): Promise<Frame> {
    const find = () => this.frames.find((f) => f.msg.id === id);
    assert.ok(await waitFor(() => find() !== undefined, DEADLINE_MS), `no answer to request ${id}; frames so far: ${JSON.stringify(this.frames.map((f) => f.msg)).slice(0, 2000)}`);
    return find() as Frame;
  }
}

async function rawPeer(socketPath: string): Promise<{ send: (msg: unknown) => void; reader: FrameReader; close: () => void }> {
  const socket = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const reader = new FrameReader();
  socket.on('data', (c: Buffer) => reader.push(c));
  return { send: (msg) => socket.write(JSON.stringify(msg) + '\n'), reader, close: () => socket.destroy() };
}

/** The result without what differs from one run of a command to the next. */
function comparable(r: Record<string, unknown>): Record<string, unknown> {
  const { command_id: _id, duration_ms: _ms, ...rest } = r;
  return rest;
}

const MiB = 1024 * 1024;

describe('raw_output', () => {
  const h = useHttpDaemon();

  it('on the Unix socket: the line, then exactly the output, and pipelined answers after it', async () => {
    const c = await connect(h.d);
    const p = await rawPeer(h.d.socketPath);
    try {
      const dir = (await c.call('session.create', {})).workspace;
      // Bytes of every value, newlines and invalid UTF-8 among them, then a megabyte of text.
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      fs.writeFileSync(path.join(dir, 'all.bin'), all);
      const text = 'line "one" \\ two\n'.repeat(Math.ceil(MiB / 17)).slice(0, MiB);
      fs.writeFileSync(path.join(dir, 'big.txt'), text);
      const cwd = { working_dir: dir };
      p.send({ id: 1, method: 'exec.run', params: { ...cwd, command: 'cat all.bin; cat big.txt >&2', raw_output: true } });
      p.send({ id: 2, method: 'system.ping' });
      p.send({ id: 3, method: 'exec.run', params: { ...cwd, command: 'printf "%s" "$X"', env: { X: 'é\n' }, raw_output: true, encoding: 'base64' } });
      p.send({ id: 4, method: 'exec.run', params: { ...cwd, command: 'true', raw_output: true } });
      p.send({ id: 5, method: 'exec.run', params: { ...cwd, command: 'echo json' } });
      const one = await p.reader.answer(1);
      assert.equal(one.msg.ok, true);
      assert.equal(one.msg.data.stdout, '');
      assert.equal(one.msg.data.stderr, '');
      assert.deepEqual(one.msg.data.raw_output, { stdout: 256, stderr: MiB });
      assert.equal(one.msg.data.stdout_bytes, 256);
      assert.equal(one.msg.data.stdout_invalid_utf8, true);
      assert.ok(one.bytes?.subarray(0, 256).equals(all), 'stdout: the 256 bytes as they are');
      assert.equal(one.bytes?.subarray(256).toString('utf8'), text, 'stderr: the megabyte of text');
      assert.equal((await p.reader.answer(2)).msg.ok, true);
      const three = await p.reader.answer(3);
      assert.deepEqual(three.msg.data.raw_output, { stdout: 3, stderr: 0 });
      assert.equal(three.msg.data.encoding, 'base64');
      assert.equal(three.bytes?.toString('utf8'), 'é\n', 'base64: the bytes themselves, not their base64');
      const four = await p.reader.answer(4);
      assert.deepEqual(four.msg.data.raw_output, { stdout: 0, stderr: 0 });
      assert.equal(four.bytes?.length, 0);
      const five = await p.reader.answer(5);
      assert.equal(five.msg.data.stdout, 'json\n', 'without raw_output the output is in the JSON');
      assert.equal(five.msg.data.raw_output, undefined);
    } finally {
      p.close();
      c.close();
    }
  });

  it('through the SDK: each result is the one the JSON carries (text, invalid UTF-8, a dropped middle, base64)', async () => {
    const c = await connect(h.d);
    try {
      const s = await c.call('session.create', {});
      fs.writeFileSync(path.join(s.workspace, 'mixed.bin'), Buffer.concat([Buffer.from('ok é '), Buffer.from([0xff, 0xc3, 0x0a, 0xe2, 0x82]), Buffer.from('\u20ac end')]));
      const cases: Array<[string, Record<string, unknown>]> = [
        ['text with escapes', { command: 'printf \'a\\tb "q" \\\\ \\001\\n\'; printf err >&2' }],
        ['invalid UTF-8', { command: 'cat mixed.bin; cat mixed.bin >&2' }],
        ['a dropped middle', { command: 'seq 1 3000; seq 1 2000 >&2', max_output_bytes: 1000 }],
        ['a dropped middle that cuts a character', { command: 'for i in $(seq 1 400); do printf "é€"; done', max_output_bytes: 301 }],
        ['base64', { command: 'cat mixed.bin; head -c 3000 mixed.bin >&2', encoding: 'base64' }],
        ['base64 with a dropped middle', { command: 'seq 1 3000', encoding: 'base64', max_output_bytes: 999 }],
      ];
      for (const [what, params] of cases) {
        const viaJson = await c.call('exec.run', { session_id: s.session_id, ...params, raw_output: false } as never);
        const viaBytes = await c.call('exec.run', { session_id: s.session_id, ...params } as never);
        assert.equal((viaBytes as { raw_output?: unknown }).raw_output, undefined, `${what}: the SDK's result has no raw_output`);
        assert.deepEqual(comparable(viaBytes), comparable(viaJson), what);
      }
      // exec.wait of a command started in the background.
      const started = await c.call('exec.start', { session_id: s.session_id, command: 'cat mixed.bin; seq 1 100 >&2' });
      const waitedBytes = await c.call('exec.wait', { command_id: started.command_id });
      const waitedJson = await c.call('exec.wait', { command_id: started.command_id, raw_output: false });
      assert.deepEqual(comparable(waitedBytes), comparable(waitedJson), 'exec.wait');
      assert.equal(waitedBytes.command_id, started.command_id);
    } finally {
      c.close();
    }
  });

  it('a yielded command (still running) answers its output so far as raw bytes too', async () => {
    const c = await connect(h.d);
    try {
      const s = await c.call('session.create', {});
      const r = await c.call('exec.run', { session_id: s.session_id, command: 'printf "héllo"; read x; printf " bye"', stdin_open: true, yield_after_s: 0.5 });
      assert.equal(r.running, true);
      // What it printed by the yield: all of its first printf, or (on a slow machine) nothing yet.
      assert.ok(r.stdout === 'héllo' || r.stdout === '', `stdout so far: ${JSON.stringify(r.stdout)}`);
      await c.call('exec.input', { command_id: r.command_id, data: '\n' });
      const done = await c.call('exec.wait', { command_id: r.command_id });
      assert.equal(done.stdout, 'héllo bye');
    } finally {
      c.close();
    }
  });

  it('secrets are redacted in the raw bytes', async () => {
    const secret = newSecret();
    const p = await rawPeer(h.d.socketPath);
    try {
      p.send({ id: 1, method: 'exec.run', params: { command: 'echo "$TOKEN"; echo "$TOKEN" >&2', env: { TOKEN: secret }, secret_keys: ['TOKEN'], raw_output: true } });
      const f = await p.reader.answer(1);
      assert.equal(f.msg.ok, true);
      assert.ok(f.bytes && f.bytes.length > 0, 'the redacted lines came');
      assert.ok(!f.bytes.toString('latin1').includes(secret), 'the secret is in the raw bytes');
    } finally {
      p.close();
    }
  });

  it('over HTTP and WebSocket raw_output is refused before the command runs', async () => {
    const dir = makeTempDir();
    const marker = path.join(dir, 'ran');
    const res = await fetch(`${h.url}/v1/rpc`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${h.token}` },
      body: JSON.stringify({ id: 1, method: 'exec.run', params: { command: `touch ${marker}`, raw_output: true } }),
    });
    const body = (await res.json()) as { ok: boolean; error?: { code: string; message: string } };
    assert.equal(body.ok, false);
    assert.equal(body.error?.code, 'INVALID_PARAMS');
    assert.match(body.error?.message ?? '', /raw_output.*Unix socket or stdio/);
    const ws = await TrlWsClient.connect({ url: h.url, token: h.token });
    try {
      await assert.rejects(ws.call('exec.run', { command: `touch ${marker}`, raw_output: true }), (err: { code?: string }) => err.code === 'INVALID_PARAMS');
      const started = await ws.call('exec.start', { command: 'true' });
      await assert.rejects(ws.call('exec.wait', { command_id: started.command_id, raw_output: true }), (err: { code?: string }) => err.code === 'INVALID_PARAMS');
      // The ordinary call on the same connection still works, and neither refused command ran.
      assert.equal((await ws.call('exec.run', { command: 'echo fine' })).stdout, 'fine\n');
    } finally {
      ws.close();
    }
    assert.equal(fs.existsSync(marker), false, 'a refused exec.run ran its command');
  });
});

it('over stdio (trl rpc) raw_output works as on the Unix socket', async () => {
  const dir = makeTempDir();
  const proc = spawn(process.execPath, [MAIN_JS, 'rpc', '--allow-root', '--default-working-dir', dir], { env: cleanEnv({}), stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = exitOf(proc);
  const reader = new FrameReader();
  proc.stdout.on('data', (c: Buffer) => reader.push(c));
  let stderr = '';
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    proc.stdin.write(JSON.stringify({ id: 1, method: 'exec.run', params: { command: 'head -c 300000 /dev/zero | tr "\\0" "z"; printf e >&2', raw_output: true } }) + '\n');
    proc.stdin.write(JSON.stringify({ id: 2, method: 'system.ping' }) + '\n');
    const one = await reader.answer(1);
    assert.deepEqual(one.msg.data?.raw_output, { stdout: 300000, stderr: 1 }, stderr);
    assert.equal(one.bytes?.toString('latin1'), 'z'.repeat(300000) + 'e');
    assert.equal((await reader.answer(2)).msg.ok, true);
  } finally {
    proc.stdin.end();
  }
  assert.equal(await exited, 0, stderr);
});

it("the SDK's call fails, not hangs, when the connection closes after a raw_output answer's line and before all its bytes", { timeout: DEADLINE_MS }, async () => {
  // A peer that dies mid-answer (a daemon killed while writing it): the line, 10 of the 100 bytes it announces, then the close.
  const dir = makeTempDir();
  const socketPath = path.join(dir, 'dies.sock');
  const server = net.createServer((conn) => {
    let buf = '';
    conn.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const req = JSON.parse(buf.slice(0, nl)) as { id: number; params: { raw_output?: boolean } };
      assert.equal(req.params.raw_output, true, 'the SDK asks for raw_output on a socket');
      const data = { command_id: 'c1', stdout: '', stderr: '', encoding: 'utf8', exit_code: 0, raw_output: { stdout: 100, stderr: 0 } };
      conn.end(JSON.stringify({ id: req.id, ok: true, data }) + '\n' + 'x'.repeat(10));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const c = await connect(socketPath);
  try {
    await assert.rejects(c.call('exec.run', { command: 'true' } as never), { code: 'CONNECTION_CLOSED' });
  } finally {
    c.close();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
