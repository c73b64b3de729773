/**
 * max_http_connections' admission (src/server/http-admission.ts) on real TCP
 * connections: at the cap a newcomer takes the slot of the oldest connection
 * that never sent a request, then of the oldest kept alive between requests;
 * one with a request in progress or upgraded to a WebSocket is never closed,
 * and when all are busy the newcomer is refused.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ConnectionAdmission } from '../../src/server/http-admission.js';
import { waitFor } from '../helpers/wait.js';

describe('HTTP connection admission', () => {
  let server: net.Server;
  let port = 0;
  /** The server's side of each connection, in the order they were accepted. */
  let accepted: net.Socket[] = [];
  let admission: ConnectionAdmission;
  const events: string[] = [];
  const clients: net.Socket[] = [];

  before(async () => {
    server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      accepted.push(socket);
      admission.admit(socket);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => {
    for (const c of clients) c.destroy();
    server.close();
  });

  /** A new client connection, resolved once the server has accepted (and admitted or closed) it. */
  async function connect(): Promise<net.Socket> {
    const before = accepted.length;
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    clients.push(c);
    await once(c, 'connect');
    assert.ok(await waitFor(() => accepted.length > before), 'the server did not accept the connection');
    return accepted[accepted.length - 1]!;
  }

  function fresh(max: number): void {
    accepted = [];
    events.length = 0;
    admission = new ConnectionAdmission(max, {
      refused: () => events.push('refused'),
      evicted: (_remote, served) => events.push(served ? 'evicted served' : 'evicted silent'),
    });
  }

  it('closes the oldest silent connection first, then the oldest idle kept-alive one, never a busy one', async () => {
    fresh(4);
    const servedIdle = await connect();
    admission.requestStarted(servedIdle)(); // a request came and its answer is done: kept alive, idle
    const busy = await connect();
    admission.requestStarted(busy); // a request in progress
    const silentOld = await connect();
    const silentNew = await connect();
    assert.equal(admission.size, 4);

    await connect();
    assert.ok(silentOld.destroyed, 'the oldest silent connection was not the one closed');
    assert.ok(!silentNew.destroyed && !servedIdle.destroyed && !busy.destroyed);
    await connect();
    assert.ok(silentNew.destroyed, 'the other silent connection was not next');
    // the two newcomers are silent too, and newer than the served one: they go before it
    const third = await connect();
    assert.ok(accepted[4]!.destroyed, 'the oldest silent newcomer was not closed before the kept-alive connection');
    assert.ok(!servedIdle.destroyed && !busy.destroyed && !third.destroyed);
    assert.deepEqual(events, ['evicted silent', 'evicted silent', 'evicted silent']);
    assert.equal(admission.size, 4);
  });

  it('closes an idle kept-alive connection when no silent one is left, and refuses a newcomer when all are busy', async () => {
    fresh(2);
    const servedIdle = await connect();
    admission.requestStarted(servedIdle)();
    const ws = await connect();
    admission.upgraded(ws);
    const newcomer = await connect();
    assert.ok(servedIdle.destroyed, 'the idle kept-alive connection did not make way');
    assert.ok(!ws.destroyed, 'a WebSocket was closed to make room');
    const done = admission.requestStarted(newcomer);
    const refused = await connect();
    assert.ok(refused.destroyed, 'a connection past the cap was admitted while every slot was busy');
    assert.ok(!newcomer.destroyed && !ws.destroyed);
    assert.deepEqual(events, ['evicted served', 'refused']);
    // its answer done, the newcomer is idle again and makes way for the next
    done();
    await connect();
    assert.ok(newcomer.destroyed, 'a connection whose request ended was not idle again');
    assert.ok(!ws.destroyed);
  });

  it('forgets a connection when it closes', async () => {
    fresh(2);
    const a = await connect();
    await connect();
    a.destroy();
    assert.ok(await waitFor(() => admission.size === 1), 'a closed connection still held its slot');
    await connect();
    assert.deepEqual(events, [], 'a slot freed by a close was taken from another connection');
  });
});
