/**
 * TrlHttpClient and a kept-alive connection closed under a request: the
 * daemon closes a connection idle past its keep-alive timeout, and a request
 * the client sent on it at that moment fails with a reset before any answer.
 * A method that changes nothing is sent once more, on a connection of its
 * own; any other method, a reset on a new connection, or a second reset is
 * the caller's error. A real HTTP server on a real port stands in for the
 * daemon here: it resets connections on cue (after reading the request,
 * which is why a command is never sent twice).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { TrlHttpClient } from '../../src/client/http-client.js';
import { TrlClientError } from '../../src/client/client-error.js';

describe('TrlHttpClient on a kept-alive connection reset under a request', () => {
  let server: Server;
  let url = '';
  /** Requests that arrive on a connection which already served one (a reused connection) and should be reset: how many more. */
  let resetReused = 0;
  /** Requests on a new connection to reset: how many more. */
  let resetFresh = 0;
  const served = new WeakMap<Socket, number>();
  let seen: string[] = [];

  before(async () => {
    server = createServer({ keepAlive: true }, (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      const before = served.get(socket) ?? 0;
      served.set(socket, before + 1);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: number; method: string };
        seen.push(`${body.method}${before > 0 ? ' (reused)' : ''}`);
        if (before > 0 && resetReused > 0) {
          resetReused--;
          return socket.resetAndDestroy();
        }
        if (before === 0 && resetFresh > 0) {
          resetFresh--;
          return socket.resetAndDestroy();
        }
        res.setHeader('Content-Type', 'application/json');
        const data = body.method === 'exec.run' ? { stdout: 'ran' } : { version: 'test', protocol_version: '1', uptime_s: 1 };
        res.end(JSON.stringify({ id: body.id, ok: true, data }));
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    resetReused = 0;
    resetFresh = 0;
    seen = [];
  });

  it('sends the request once more on a new connection', async () => {
    const client = await TrlHttpClient.connect({ url, token: 't' });
    try {
      resetReused = 1;
      const r = await client.call('system.ping', {});
      assert.equal(r.version, 'test');
      assert.deepEqual(seen, ['system.ping', 'system.ping (reused)', 'system.ping'], 'the second call went on the kept-alive connection, was reset, and went again on a new one');
    } finally {
      client.close();
    }
  });

  it('does not send it a third time: a second reset is the caller’s error', async () => {
    const client = await TrlHttpClient.connect({ url, token: 't' });
    try {
      resetReused = 1;
      resetFresh = 1;
      await assert.rejects(client.call('system.ping', {}), (err: unknown) => err instanceof TrlClientError && err.code === 'CONNECTION_CLOSED');
      assert.deepEqual(seen, ['system.ping', 'system.ping (reused)', 'system.ping']);
    } finally {
      client.close();
    }
  });

  it('sends it on a connection of its own, not on another kept-alive one that may be closed too', async () => {
    const client = await TrlHttpClient.connect({ url, token: 't' });
    try {
      // Two calls at once: two kept-alive connections in the pool.
      await Promise.all([client.call('system.ping', {}), client.call('system.ping', {})]);
      seen = [];
      resetReused = 2;
      const r = await client.call('system.ping', {});
      assert.equal(r.version, 'test');
      assert.deepEqual(seen, ['system.ping (reused)', 'system.ping']);
    } finally {
      client.close();
    }
  });

  it('does not send a command again: its connection may have been cut after the daemon read it', async () => {
    const client = await TrlHttpClient.connect({ url, token: 't' });
    try {
      resetReused = 1;
      await assert.rejects(client.call('exec.run', { command: 'true' }), (err: unknown) => err instanceof TrlClientError && err.code === 'CONNECTION_CLOSED');
      assert.deepEqual(seen, ['system.ping', 'exec.run (reused)']);
    } finally {
      client.close();
    }
  });

  it('does not send again a request reset on a new connection', async () => {
    resetFresh = 1;
    await assert.rejects(TrlHttpClient.connect({ url, token: 't' }), (err: unknown) => err instanceof TrlClientError && err.code === 'CONNECTION_CLOSED');
    assert.deepEqual(seen, ['system.ping']);
  });
});
