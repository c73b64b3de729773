/**
 * Per-connection back-pressure: a client that pipelines requests and never
 * reads the answers cannot grow the daemon. The daemon stops reading such a
 * connection while its unsent answers are over a bound (or too many of its
 * requests wait for answers); other clients are served meanwhile; once the
 * client reads, it gets every answer, whole. Pipelining by a client that
 * reads is unaffected. Over the Unix socket, WebSocket and HTTP.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { MAX_IN_FLIGHT, TURN_BYTES } from '../src/server/request-gate.js';
import { startHttpDaemon, type HttpDaemon } from './helpers/http.js';
import { connect, type TrlClient } from './helpers/client.js';
import { type Daemon } from './helpers/daemon.js';
import { MiB, rssBytes, RssSampler } from './helpers/memory.js';
import { waitFor } from './helpers/wait.js';
import { waitForQuiet } from './helpers/processes.js';
import { useHttpDaemon } from './helpers/fixture.js';

/**
 * Pipelined 1 MiB answers a stuck client asks for: unbounded, that is 160 MiB in the daemon (twice STUCK_MARGIN, and
 * far more with the JSON text and the write buffer each answer also holds); bounded (MAX_UNSENT_BYTES), a few MiB.
 */
const N = 160;
/** Pipelined pings of a client that reads. */
const PINGS = 2000;
/** Growth allowed while the client is stuck: generous (20 times MAX_UNSENT_BYTES), yet half of what it asked for (N answers of 1 MiB). */
const STUCK_MARGIN = 80 * MiB;
/**
 * Growth allowed while it then reads the N MiB: each answer leaves a few MiB
 * of garbage (strings, write buffers) that V8 collects when it sees fit.
 */
const READING_MARGIN = 400 * MiB;
const PRINT_1MIB = `head -c ${MiB} /dev/zero | tr '\\0' x`;
const PRINT_4MIB = (c: string) => `head -c ${4 * MiB} /dev/zero | tr '\\0' ${c}`;

/** Calls `fn` with each line as it arrives, keeping nothing: 2 GiB of answers must not pile up in the test either. */
function onLines(socket: net.Socket, fn: (line: string) => void): void {
  let parts: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      parts.push(chunk.subarray(start, nl));
      fn(Buffer.concat(parts).toString('utf8'));
      parts = [];
      start = nl + 1;
    }
    if (start < chunk.length) parts.push(chunk.subarray(start));
  });
}

/** Checks each answer as it comes and keeps only the verdicts. */
class Tally {
  readonly ids = new Set<unknown>();
  readonly problems: string[] = [];
  constructor(private readonly check: (answer: any) => string | null) {}

  add(text: string): void {
    let answer: any;
    try {
      answer = JSON.parse(text);
    } catch {
      this.problems.push(`an answer is not JSON (${text.length} bytes): ${text.slice(0, 120)}…`);
      return;
    }
    const problem = this.check(answer);
    if (problem) this.problems.push(`id ${JSON.stringify(answer.id)}: ${problem}`);
    if (this.ids.has(answer.id)) this.problems.push(`id ${JSON.stringify(answer.id)} answered twice`);
    this.ids.add(answer.id);
  }

  /** Wait for n answers while they keep coming (a busy machine may be slow; a stalled connection fails after `stallMs`). */
  async all(n: number, stallMs: number): Promise<void> {
    for (let seen = -1; seen < this.ids.size && this.ids.size < n && this.problems.length === 0;) {
      seen = this.ids.size;
      await waitFor(() => this.ids.size > seen || this.problems.length > 0, stallMs, 50);
    }
    assert.deepEqual(this.problems.slice(0, 5), [], `${this.problems.length} bad answers`);
    assert.equal(this.ids.size, n, `${this.ids.size} of ${n} answers arrived, then none for ${stallMs / 1000} s`);
  }
}

/** An exec.output answer holding the whole 1 MiB of `x`. */
function fullPage(a: any): string | null {
  if (a.ok !== true) return `not ok: ${JSON.stringify(a.error)}`;
  const d = a.data;
  if (typeof d.data !== 'string' || d.data.length !== MiB || !/^x+$/.test(d.data)) return `data is not 1 MiB of x (${String(d.data?.length)} chars)`;
  if (d.next_offset !== MiB || d.eof !== true) return `next_offset ${d.next_offset}, eof ${d.eof}`;
  return typeof a.id === 'number' && a.id >= 0 && a.id < N ? null : 'unexpected id';
}

function pageRequest(i: number, command_id: string): string {
  return JSON.stringify({ id: i, method: 'exec.output', params: { command_id, max_bytes: MiB } });
}

/** A finished command holding 1 MiB of output, and the daemon's RSS once it is warm. */
async function commandWithOutput(c: TrlClient, pid: number): Promise<{ command_id: string; idle: number }> {
  const sid = (await c.call('session.create', {})).session_id;
  const { command_id } = await c.call('exec.start', { session_id: sid, command: PRINT_1MIB });
  assert.equal((await c.call('exec.wait', { command_id, timeout_s: 30 })).stdout_bytes, MiB);
  const page = await c.call('exec.output', { command_id, max_bytes: MiB });
  assert.equal(page.data.length, MiB);
  return { command_id, idle: rssBytes(pid)! };
}

/** Another client is served while one is stuck: a ping and a new session. */
async function othersServed(d: Daemon): Promise<void> {
  const other = await connect(d);
  try {
    const pong = await other.call('system.ping', {});
    assert.equal(typeof pong.uptime_s, 'number');
    const s = await other.call('session.create', {});
    assert.match(s.session_id, /\S/);
    await other.call('session.destroy', { session_id: s.session_id, force: true });
  } finally {
    other.close();
  }
}

function assertRss(what: string, max: number, idle: number, margin: number): void {
  console.log(`# ${what}: daemon RSS idle ${(idle / MiB).toFixed(0)} MiB, max ${(max / MiB).toFixed(0)} MiB`);
  assert.ok(max < idle + margin, `${what}: the daemon's RSS reached ${(max / MiB).toFixed(0)} MiB (idle ${(idle / MiB).toFixed(0)} MiB, allowed +${margin / MiB} MiB)`);
}

describe('a client that pipelines requests and never reads', () => {
  // One daemon per transport: a daemon grown by one case would fail the next (max_daemon_rss_bytes).
  let h: HttpDaemon | undefined;
  let c: TrlClient | undefined;
  async function daemon(): Promise<{ h: HttpDaemon; c: TrlClient }> {
    h = await startHttpDaemon();
    c = await connect(h.d);
    return { h, c };
  }
  afterEach(async () => {
    c?.close();
    await h?.d.shutdownClean();
    h = c = undefined;
  });

  it(`Unix socket: ${N} exec.output of 1 MiB keep the daemon small, others are served, and every answer arrives whole once it reads`, async () => {
    const { h, c } = await daemon();
    const { command_id, idle } = await commandWithOutput(c, h.d.pid);
    const sampler = new RssSampler(h.d.pid, 20);
    const stuck = net.connect(h.d.socketPath);
    let max: number;
    try {
      await once(stuck, 'connect');
      stuck.pause();
      stuck.write(Array.from({ length: N }, (_, i) => pageRequest(i, command_id) + '\n').join(''));
      // the daemon has begun answering: what it read by now it has dispatched
      assert.ok(await waitFor(() => stuck.readableLength > 0), 'no answer reached the stuck client');
      await othersServed(h.d);
      // unbounded, it would by now hold every answer: measure once it has done what it will do
      assert.ok(await waitForQuiet(h.d.pid), 'the daemon never went quiet');
      assertRss('Unix socket, while stuck', sampler.max, idle, STUCK_MARGIN);

      const tally = new Tally(fullPage);
      onLines(stuck, (line) => tally.add(line));
      stuck.resume();
      await tally.all(N, 60_000);
    } finally {
      stuck.destroy();
      max = sampler.stop();
    }
    assertRss('Unix socket, reading', max, idle, READING_MARGIN);
  });

  it('WebSocket: the same, over one WebSocket', async () => {
    const { h, c } = await daemon();
    const { command_id, idle } = await commandWithOutput(c, h.d.pid);
    const sampler = new RssSampler(h.d.pid, 20);
    const ws = new WebSocket(h.url.replace(/^http/, 'ws') + '/v1/ws', [], { headers: { Authorization: `Bearer ${h.token}` }, perMessageDeflate: false });
    let max: number;
    try {
      await once(ws, 'open');
      ws.pause();
      for (let i = 0; i < N; i++) ws.send(pageRequest(i, command_id));
      // `ws` offers no public view of bytes received while paused; its socket does
      const socket = (ws as unknown as { _socket: net.Socket })._socket;
      assert.ok(await waitFor(() => socket.readableLength > 0), 'no answer reached the stuck WebSocket');
      await othersServed(h.d);
      // unbounded, it would by now hold every answer: measure once it has done what it will do
      assert.ok(await waitForQuiet(h.d.pid), 'the daemon never went quiet');
      assertRss('WebSocket, while stuck', sampler.max, idle, STUCK_MARGIN);

      const tally = new Tally(fullPage);
      ws.on('message', (data) => tally.add(data.toString()));
      ws.resume();
      await tally.all(N, 60_000);
    } finally {
      ws.terminate();
      max = sampler.stop();
    }
    assertRss('WebSocket, reading', max, idle, READING_MARGIN);
  });

  it('HTTP keep-alive: the same, pipelined on one connection', async () => {
    const { h, c } = await daemon();
    const { command_id, idle } = await commandWithOutput(c, h.d.pid);
    const sampler = new RssSampler(h.d.pid, 20);
    const stuck = net.connect(h.port, '127.0.0.1');
    let max: number;
    try {
      await once(stuck, 'connect');
      stuck.pause();
      stuck.write(Array.from({ length: N }, (_, i) => httpPost(h, pageRequest(i, command_id))).join(''));
      assert.ok(await waitFor(() => stuck.readableLength > 0), 'no answer reached the stuck client');
      await othersServed(h.d);
      // unbounded, it would by now hold every answer: measure once it has done what it will do
      assert.ok(await waitForQuiet(h.d.pid), 'the daemon never went quiet');
      assertRss('HTTP, while stuck', sampler.max, idle, STUCK_MARGIN);

      const tally = new Tally(fullPage);
      onHttpBodies(stuck, (status, body) => (status === 200 ? tally.add(body) : tally.problems.push(`HTTP ${status}: ${body.slice(0, 200)}`)));
      stuck.resume();
      await tally.all(N, 60_000);
    } finally {
      stuck.destroy();
      max = sampler.stop();
    }
    assertRss('HTTP, reading', max, idle, READING_MARGIN);
  });
});

describe('legitimate pipelining', () => {
  const h = useHttpDaemon();

  const pong = (a: any) => (a.ok === true && typeof a.data.uptime_s === 'number' ? null : `not a pong: ${JSON.stringify(a).slice(0, 200)}`);
  const pings = () => Array.from({ length: PINGS }, (_, i) => JSON.stringify({ id: i, method: 'system.ping' }));

  it('Unix socket: 2,000 pipelined pings, read as they come, get 2,000 answers', async () => {
    const sock = net.connect(h.d.socketPath);
    try {
      await once(sock, 'connect');
      const tally = new Tally(pong);
      onLines(sock, (line) => tally.add(line));
      sock.write(pings().join('\n') + '\n');
      await tally.all(PINGS, 60_000);
      assert.deepEqual(
        [...tally.ids].sort((a, b) => (a as number) - (b as number)),
        Array.from({ length: PINGS }, (_, i) => i),
      );
    } finally {
      sock.destroy();
    }
  });

  it('WebSocket: 2,000 pipelined pings get 2,000 answers', async () => {
    const ws = new WebSocket(h.url.replace(/^http/, 'ws') + '/v1/ws', [], { headers: { Authorization: `Bearer ${h.token}` }, perMessageDeflate: false });
    try {
      await once(ws, 'open');
      const tally = new Tally(pong);
      ws.on('message', (data) => tally.add(data.toString()));
      for (const p of pings()) ws.send(p);
      await tally.all(PINGS, 60_000);
    } finally {
      ws.terminate();
    }
  });
});

describe('an answer larger than one turn may hand over, coming late', () => {
  const h = useHttpDaemon();

  // 4 MiB on each stream (the default max_output_bytes keeps it all), after the turn that dispatched it
  const big = { id: 'big', method: 'exec.run', params: { command: `sleep 0.2; ${PRINT_4MIB('x')}; ${PRINT_4MIB('y')} >&2` } };
  const checkBig = (a: any) => {
    assert.equal(a.ok, true, JSON.stringify(a.error));
    assert.equal(a.data.stdout.length + a.data.stderr.length, 8 * MiB);
    assert.ok(JSON.stringify(a).length > TURN_BYTES);
  };

  it('Unix socket: the connection still answers the next request', async () => {
    const sock = net.connect(h.d.socketPath);
    try {
      await once(sock, 'connect');
      const answers = new Map<unknown, any>();
      onLines(sock, (line) => {
        const a = JSON.parse(line);
        answers.set(a.id, a);
      });
      sock.write(JSON.stringify(big) + '\n');
      assert.ok(await waitFor(() => answers.has('big')), 'no answer to the big exec.run');
      checkBig(answers.get('big'));
      sock.write(JSON.stringify({ id: 'next', method: 'system.ping' }) + '\n');
      assert.ok(await waitFor(() => answers.has('next')), 'the request after the big answer was never answered');
      assert.equal(answers.get('next').ok, true);
    } finally {
      sock.destroy();
    }
  });

  it('WebSocket: the same', async () => {
    const ws = new WebSocket(h.url.replace(/^http/, 'ws') + '/v1/ws', [], { headers: { Authorization: `Bearer ${h.token}` }, perMessageDeflate: false });
    try {
      await once(ws, 'open');
      const answers = new Map<unknown, any>();
      ws.on('message', (data) => {
        const a = JSON.parse(data.toString());
        answers.set(a.id, a);
      });
      ws.send(JSON.stringify(big));
      assert.ok(await waitFor(() => answers.has('big')), 'no answer to the big exec.run');
      checkBig(answers.get('big'));
      ws.send(JSON.stringify({ id: 'next', method: 'system.ping' }));
      assert.ok(await waitFor(() => answers.has('next')), 'the request after the big answer was never answered');
      assert.equal(answers.get('next').ok, true);
    } finally {
      ws.terminate();
    }
  });
});

describe(`requests in flight per connection (at most ${MAX_IN_FLIGHT})`, () => {
  const h = useHttpDaemon();
  let c: TrlClient;
  before(async () => {
    c = await connect(h.d);
  });
  after(() => c?.close());

  /**
   * MAX_IN_FLIGHT long-polls on a silent command, then a plain read of its
   * output (the probe). The probe must not be read before a long-poll is
   * answered, that is before the command prints: it then sees the output.
   */
  async function probeAfterLongPolls(send: (lines: string[]) => Promise<void>, answers: Map<unknown, any>): Promise<void> {
    const sid = (await c.call('session.create', {})).session_id;
    try {
      const { command_id } = await c.call('exec.start', { session_id: sid, command: 'read x; printf a', stdin_open: true });
      const lines = Array.from({ length: MAX_IN_FLIGHT }, (_, i) => JSON.stringify({ id: i, method: 'exec.output', params: { command_id, wait_ms: 600_000 } }));
      lines.push(JSON.stringify({ id: 'probe', method: 'exec.output', params: { command_id } }));
      await send(lines);
      // round trips elsewhere: a daemon that reads on would have answered the probe by now
      for (let i = 0; i < 3; i++) await c.call('system.ping', {});
      await c.call('exec.input', { command_id, data: 'go\n' });
      assert.ok(await waitFor(() => answers.size === MAX_IN_FLIGHT + 1), `${answers.size} of ${MAX_IN_FLIGHT + 1} answers`);
      for (const [id, a] of answers) assert.equal(a.ok, true, `${String(id)}: ${JSON.stringify(a.error)}`);
      assert.equal(answers.get('probe').data.data, 'a', 'the request after the long-polls was read before any of them was answered');
      assert.ok([...answers.values()].every((a) => a.data.data === 'a'));
    } finally {
      await c.call('session.destroy', { session_id: sid, force: true }).catch(() => undefined);
    }
  }

  it('Unix socket: the request after them waits, unread, until one is answered', async () => {
    const sock = net.connect(h.d.socketPath);
    try {
      await once(sock, 'connect');
      const answers = new Map<unknown, any>();
      onLines(sock, (line) => {
        const a = JSON.parse(line);
        answers.set(a.id, a);
      });
      await probeAfterLongPolls(async (lines) => {
        await new Promise<void>((resolve) => sock.write(lines.join('\n') + '\n', () => resolve()));
      }, answers);
    } finally {
      sock.destroy();
    }
  });

  it('HTTP keep-alive: the same for pipelined requests on one connection', async () => {
    const sock = net.connect(h.port, '127.0.0.1');
    try {
      await once(sock, 'connect');
      const answers = new Map<unknown, any>();
      onHttpBodies(sock, (status, body) => {
        const a = status === 200 ? JSON.parse(body) : { id: `status-${status}`, ok: false, error: body };
        answers.set(a.id, a);
      });
      await probeAfterLongPolls(async (lines) => {
        await new Promise<void>((resolve) => sock.write(lines.map((l) => httpPost(h, l)).join(''), () => resolve()));
      }, answers);
    } finally {
      sock.destroy();
    }
  });
});

describe('max_http_connections', () => {
  const open: net.Socket[] = [];
  // the sockets close first: a request left unfinished would hold the daemon's shutdown
  after(() => {
    for (const s of open) s.destroy();
  });
  const h = useHttpDaemon({ flags: ['--max-http-connections', '4'] });

  it('closes connections past the cap at once, and accepts again once one closes', async () => {
    for (let i = 0; i < 4; i++) {
      const s = net.connect(h.port, '127.0.0.1');
      s.on('error', () => undefined); // a reset when the daemon shuts down with the request unfinished
      open.push(s);
      const bodies: string[] = [];
      onHttpBodies(s, (_status, body) => bodies.push(body));
      await once(s, 'connect');
      // an answered request proves the daemon took this connection; a request begun keeps it from idling out
      s.write(httpPost(h, JSON.stringify({ id: i, method: 'system.ping' })));
      assert.ok(await waitFor(() => bodies.length === 1), `connection ${i} got no answer`);
      assert.equal(JSON.parse(bodies[0]!).ok, true);
      s.write(httpPost(h, '{}').slice(0, -2));
    }
    const fifth = net.connect(h.port, '127.0.0.1');
    const fifthData: Buffer[] = [];
    fifth.on('data', (d: Buffer) => fifthData.push(d));
    // the close may come as a reset (the request was sent): an error, then 'close'
    fifth.on('error', () => undefined);
    const closed = new Promise((resolve) => fifth.once('close', resolve));
    fifth.write(httpPost(h, JSON.stringify({ id: 5, method: 'system.ping' })));
    await closed;
    assert.equal(Buffer.concat(fifthData).length, 0, 'a connection past the cap was answered');
    assert.ok(await waitFor(() => /refusing new HTTP connections/.test(h.d.stderr())), 'the refusal was not logged');

    open.shift()!.destroy();
    const pong = await waitFor(async () => {
      const r = await tryPing(h);
      return r !== null && JSON.parse(r).ok === true;
    });
    assert.ok(pong, 'no connection was accepted after one of the four closed');
  });
});

describe('max_http_connections against connections that do nothing', () => {
  const open: net.Socket[] = [];
  after(() => {
    for (const s of open) s.destroy();
  });
  const h = useHttpDaemon({ flags: ['--max-http-connections', '4'] });

  it('a client is served while every slot is held by a peer that sent nothing; the oldest silent one makes way, a busy one never does', async () => {
    const silent: Array<{ socket: net.Socket; closed: boolean }> = [];
    // one connection with a request in progress (its headers in, its body not): busy, never evicted
    const busy = net.connect(h.port, '127.0.0.1');
    busy.on('error', () => undefined);
    open.push(busy);
    const busyBodies: string[] = [];
    onHttpBodies(busy, (_status, body) => busyBodies.push(body));
    await once(busy, 'connect');
    busy.write(httpPost(h, JSON.stringify({ id: 0, method: 'system.ping' })));
    assert.ok(await waitFor(() => busyBodies.length === 1), 'the busy connection got no answer');
    busy.write(httpPost(h, '{}').slice(0, -2));
    let busyClosed = false;
    busy.once('close', () => (busyClosed = true));
    // three peers that connect and send nothing (one trickles half a request line), then a fourth: all slots taken
    for (let i = 0; i < 4; i++) {
      const s = net.connect(h.port, '127.0.0.1');
      s.on('error', () => undefined);
      open.push(s);
      const entry = { socket: s, closed: false };
      s.once('close', () => (entry.closed = true));
      silent.push(entry);
      await once(s, 'connect');
      if (i === 1) s.write('POST /v1/r');
    }
    // the daemon took the fifth by closing the oldest silent one: the cap is 4
    assert.ok(await waitFor(() => silent[0]!.closed), 'the oldest silent connection was not closed when a fifth came in');
    // a real client is served in turn, again at the cost of the oldest silent one
    const pong = await tryPing(h);
    assert.ok(pong !== null && JSON.parse(pong).ok === true, `a client was not served while silent peers held the slots: ${pong}`);
    assert.ok(await waitFor(() => silent[1]!.closed), 'the next oldest silent connection was not the one closed');
    assert.equal(busyClosed, false, 'a connection with a request in progress was closed to make room');
    assert.equal(silent[3]!.closed, false, 'a newer silent connection was closed before an older one');
    assert.ok(await waitFor(() => /closing HTTP connections that sent no request/.test(h.d.stderr())), 'the eviction was not logged');
  });
});

// ---------------------------------------------------------------- raw HTTP

function httpPost(h: HttpDaemon, body: string): string {
  return `POST /v1/rpc HTTP/1.1\r\nHost: 127.0.0.1:${h.port}\r\nAuthorization: Bearer ${h.token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Calls `fn` with each response's status and body (the daemon's JSON answers all carry Content-Length). */
function onHttpBodies(socket: net.Socket, fn: (status: number, body: string) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  let parts: Buffer[] = [];
  let need = -1;
  let status = 0;
  let have = 0;
  socket.on('data', (data: Buffer) => {
    let chunk: Buffer = data;
    for (;;) {
      if (need < 0) {
        buf = buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk;
        chunk = Buffer.alloc(0);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);
        need = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        chunk = buf.subarray(end + 4);
        buf = Buffer.alloc(0);
        parts = [];
        have = 0;
      }
      const take = Math.min(need - have, chunk.length);
      parts.push(chunk.subarray(0, take));
      have += take;
      chunk = chunk.subarray(take);
      if (have < need) return;
      fn(status, Buffer.concat(parts).toString('utf8'));
      need = -1;
      buf = chunk;
      chunk = Buffer.alloc(0);
      if (buf.length === 0) return;
    }
  });
}

/** One ping on a fresh connection: its body, or null if the connection was closed unanswered. */
async function tryPing(h: HttpDaemon): Promise<string | null> {
  const s = net.connect(h.port, '127.0.0.1');
  s.on('error', () => undefined);
  try {
    let body: string | null = null;
    onHttpBodies(s, (_status, b) => (body = b));
    s.write(httpPost(h, JSON.stringify({ id: 'p', method: 'system.ping' })));
    await waitFor(() => body !== null || s.destroyed || s.readableEnded);
    return body;
  } finally {
    s.destroy();
  }
}
