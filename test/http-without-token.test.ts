/**
 * What a peer without the token can do to the HTTP port (docs/security.md,
 * HTTP): it is refused, and a refusal must cost the daemon nothing that
 * outlives it. Two holes a review found, each a test that failed before its
 * fix: a refused WebSocket upgrade left its socket half-open for as long as
 * the peer liked (no HTTP timeout applies once Node hands a request to the
 * upgrade handler), so `max_http_connections` refused upgrades locked every
 * client out; and the routes that answer without reading a body (the CORS
 * preflight, the dashboard's pages) read whatever a peer kept sending on a
 * connection that stayed open.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { rpc, type HttpDaemon } from './helpers/http.js';
import { useHttpDaemon } from './helpers/fixture.js';
import { waitFor } from './helpers/wait.js';
import { MiB } from './helpers/memory.js';

/** Upgrade requests that are refused before any WebSocket exists: no token, no dashboard cookie, an unknown path. */
const REFUSED_UPGRADES = [
  'GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  'GET /dashboard/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  'GET /anything HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n',
];
/** What a peer streams into a route that does not read bodies before the test calls the hole open. */
const FLOOD_LIMIT = 256 * MiB;

interface Held {
  socket: net.Socket;
  answer: () => string;
  /** The daemon's end of the connection is gone: a write of ours was reset (or the socket closed). */
  closed: () => boolean;
  /** The daemon sent its FIN (it may still be reading). */
  ended: () => boolean;
}

/**
 * A connection that never closes its own side (the peer of the attack): only the daemon can end it. Its FIN alone
 * does not: a half-closed socket still reads and still holds its slot; whether it was closed for good shows when a
 * write of ours is reset.
 */
async function holdOpen(h: HttpDaemon, request: string, open: net.Socket[]): Promise<Held> {
  const socket = net.connect({ port: h.port, host: '127.0.0.1', allowHalfOpen: true });
  open.push(socket);
  let answer = '';
  let closed = false;
  let ended = false;
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  socket.on('end', () => (ended = true));
  socket.on('error', () => (closed = true));
  socket.on('close', () => (closed = true));
  await once(socket, 'connect');
  socket.write(request);
  return { socket, answer: () => answer, closed: () => closed, ended: () => ended };
}

/** Whether the daemon has closed its end for good: a byte written now and then is reset once it has. */
function probeClosed(c: Held): () => boolean {
  return () => {
    if (!c.closed() && !c.socket.destroyed) c.socket.write('x');
    return c.closed();
  };
}

/** An authenticated ping, or null where the connection was refused or reset. */
async function ping(h: HttpDaemon): Promise<boolean> {
  try {
    const r = await rpc(h, 'system.ping');
    return r.status === 200 && (r.json as { ok?: boolean }).ok === true;
  } catch {
    return false;
  }
}

describe('a refused WebSocket upgrade holds no connection', () => {
  const open: net.Socket[] = [];
  after(() => {
    for (const s of open) s.destroy();
  });
  const h = useHttpDaemon({ flags: ['--dashboard', '--max-http-connections', String(REFUSED_UPGRADES.length)] });

  it('the daemon closes each refused upgrade though the peer keeps it open, and its slot serves the next client', async () => {
    const held = [];
    for (const request of REFUSED_UPGRADES) held.push(await holdOpen(h, request, open));
    for (const [i, c] of held.entries()) {
      assert.ok(await waitFor(() => / 40[134] /.test(c.answer().split('\r\n')[0] ?? '') && c.ended()), `upgrade ${i} was not refused: ${JSON.stringify(c.answer().slice(0, 200))}`);
      assert.ok(await waitFor(probeClosed(c), undefined, 100), `the daemon kept refused upgrade ${i} half-open (${JSON.stringify(c.answer().split('\r\n')[0])})`);
    }
    // every slot of --max-http-connections was a refused upgrade: a client with the token is served again
    assert.ok(await waitFor(() => ping(h)), 'refused upgrades still hold max_http_connections: an authenticated ping is not served');
  });
});

describe('a body sent where none is read is not read on', () => {
  const open: net.Socket[] = [];
  after(() => {
    for (const s of open) s.destroy();
  });
  const h = useHttpDaemon({ flags: ['--dashboard'] });

  /** Streams zeros after `head` until the daemon closes the connection or FLOOD_LIMIT is written; returns the bytes it took. */
  async function flood(head: string): Promise<{ written: number; closed: boolean; status: string }> {
    const c = await holdOpen(h, head, open);
    // the daemon answers at the headers; what matters is what it does with the body that keeps coming
    assert.ok(await waitFor(() => c.answer().includes('\r\n\r\n')), `no answer to ${JSON.stringify(head.split('\r\n')[0])}`);
    const chunk = Buffer.alloc(64 * 1024);
    let written = 0;
    while (!c.closed() && !c.socket.destroyed && written < FLOOD_LIMIT) {
      if (!c.socket.write(chunk)) await new Promise((resolve) => (c.socket.once('drain', resolve), c.socket.once('close', resolve)));
      written += chunk.length;
    }
    await waitFor(probeClosed(c), undefined, 100);
    return { written, closed: c.closed(), status: c.answer().split('\r\n')[0] ?? '' };
  }

  for (const [what, head] of [
    ['a CORS preflight (OPTIONS /v1/rpc) with a 100 GB body', 'OPTIONS /v1/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000000\r\n\r\n'],
    ['a chunked POST to a dashboard page', 'POST /dashboard/app.js HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n'],
  ] as const) {
    it(`${what}: answered, then the connection is closed`, async () => {
      const r = await flood(head);
      assert.match(r.status, /^HTTP\/1\.1 (204|405) /, `answer: ${r.status}`);
      assert.ok(r.closed, 'the connection stayed open');
      assert.ok(r.written < FLOOD_LIMIT, `the daemon read all ${FLOOD_LIMIT / MiB} MiB of a body it does not use, and the connection stayed open`);
    });
  }

  it('a preflight without a body keeps its connection (keep-alive) and the next request is answered on it', async () => {
    const c = await holdOpen(h, 'OPTIONS /v1/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nOPTIONS /v1/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', open);
    assert.ok(await waitFor(() => (c.answer().match(/HTTP\/1\.1 204 /g) ?? []).length === 2), `answers: ${JSON.stringify(c.answer().slice(0, 400))}`);
    assert.equal(c.closed(), false, 'a bodiless preflight closed its connection');
  });
});
