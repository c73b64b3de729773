/**
 * Authentication and exposure of the HTTP transport (DESIGN §5, seed
 * trl-security.md): the daemon refuses to start without a good token or with
 * an unsafe bind, every request needs the bearer token (compared in constant
 * time, never logged nor returned), CORS grants nothing unless origins are
 * listed, and TLS files are checked before anything listens.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { TrlHttpClient } from '../src/client/http-client.js';
import { TrlClientError } from '../src/client/client-error.js';
import { freePort, makeToken, openWs, portOpen, request, rpc, startHttpDaemon, waitForHttpUrl, type HttpDaemon } from './helpers/http.js';
import { type Daemon, exitWithin, makeTempDir, startDaemon } from './helpers/daemon.js';
import { useHttpDaemon } from './helpers/fixture.js';

/** Start a daemon that must refuse; returns its exit code and output, and checks nothing listens. */
async function refusesToStart(flags: string[], env: Record<string, string>, port?: number): Promise<{ code: number | null | 'timeout'; out: string; d: Daemon }> {
  const d = await startDaemon({ flags, env, noWait: true });
  const code = await exitWithin(d);
  if (code === 'timeout') await d.stop('SIGKILL');
  assert.equal(fs.existsSync(d.socketPath), false, 'a daemon that refused to start left a socket');
  if (port !== undefined) assert.equal(await portOpen(port), false, `something listens on port ${port} after the refusal`);
  const out = d.logs();
  await d.dispose();
  return { code, out, d };
}

describe('HTTP start-up checks', () => {
  it('refuses to start without TRL_AUTH_TOKEN, says how to make one, and listens nowhere', async () => {
    const port = await freePort();
    const { code, out } = await refusesToStart(['--http', `127.0.0.1:${port}`], {}, port);
    assert.equal(code, 1, `exit code ${String(code)}; output:\n${out}`);
    assert.match(out, /TRL_AUTH_TOKEN is not set/);
    assert.match(out, /openssl rand -hex 32/);
    assert.match(out, /randomBytes\(32\)/);
  });

  it('refuses a token shorter than 32 characters (and an empty one)', async () => {
    const port = await freePort();
    const short = 'x'.repeat(31);
    const { code, out } = await refusesToStart(['--http', `127.0.0.1:${port}`], { TRL_AUTH_TOKEN: short }, port);
    assert.equal(code, 1, out);
    assert.match(out, /31 characters/);
    assert.match(out, /at least 32/);
    assert.match(out, /openssl rand -hex 32/);
    assert.ok(!out.includes(short), 'the refusal printed the token');
    const empty = await refusesToStart(['--http', `127.0.0.1:${port}`], { TRL_AUTH_TOKEN: '' }, port);
    assert.equal(empty.code, 1, empty.out);
  });

  it('takes the token from the environment only: TRL_HTTP works, a --auth-token flag does not exist', async () => {
    const token = 'k'.repeat(32);
    const d = await startDaemon({ env: { TRL_AUTH_TOKEN: token, TRL_HTTP: '127.0.0.1:0' } });
    try {
      const h = { d, url: await waitForHttpUrl(d), port: 0, token };
      assert.equal((await rpc(h, 'system.ping')).status, 200, 'a token of exactly 32 characters is accepted');
    } finally {
      await d.shutdownClean();
    }
    const flag = await refusesToStart(['--http', '127.0.0.1:0', '--auth-token', makeToken()], { TRL_AUTH_TOKEN: makeToken() });
    assert.notEqual(flag.code, 0);
    assert.match(flag.out, /unknown option '--auth-token'/);
  });

  it('binds 127.0.0.1 for a bare port and refuses a non-loopback address without --allow-remote', async () => {
    const port = await freePort();
    const h = await startHttpDaemon({ http: String(port) });
    try {
      assert.equal(h.url, `http://127.0.0.1:${port}`);
    } finally {
      await h.d.shutdownClean();
    }
    const { code, out } = await refusesToStart(['--http', `0.0.0.0:${port}`], { TRL_AUTH_TOKEN: makeToken() }, port);
    assert.equal(code, 1, out);
    assert.match(out, /--allow-remote/);
    assert.match(out, /not a loopback address/);
  });

  it('binds a non-loopback address with --allow-remote, and warns about plain HTTP', async () => {
    const h = await startHttpDaemon({ http: '0.0.0.0:0', flags: ['--allow-remote'] });
    try {
      assert.match(h.url, /^http:\/\/0\.0\.0\.0:\d+$/);
      const local = { ...h, url: `http://127.0.0.1:${h.port}` };
      assert.equal((await rpc(local, 'system.ping')).json.ok, true);
      assert.match(h.d.stderr(), /clear text/);
    } finally {
      await h.d.shutdownClean();
    }
  });

  it("refuses --cors-origin '*' and a value that is not an origin", async () => {
    for (const bad of ['*', 'https://a.example.com,*', 'https://a.example.com/path']) {
      const { code, out } = await refusesToStart(['--http', '127.0.0.1:0', '--cors-origin', bad], { TRL_AUTH_TOKEN: makeToken() });
      assert.equal(code, 2, `--cors-origin ${bad}: exit ${String(code)}\n${out}`);
      assert.match(out, /--cors-origin/);
    }
  });

  it('refuses a malformed --http, and TLS or CORS settings without --http', async () => {
    const bad = await refusesToStart(['--http', 'localhost'], { TRL_AUTH_TOKEN: makeToken() });
    assert.equal(bad.code, 2, bad.out);
    assert.match(bad.out, /--http: must be HOST:PORT/);
    const stray = await refusesToStart(['--cors-origin', 'https://a.example.com'], {});
    assert.equal(stray.code, 1, stray.out);
    assert.match(stray.out, /only apply to HTTP/);
  });

  it('refuses TLS settings given by halves or naming unreadable files, before listening', async () => {
    const dir = makeTempDir();
    try {
      const port = await freePort();
      const token = makeToken();
      const half = await refusesToStart(['--http', `127.0.0.1:${port}`, '--tls-cert', path.join(dir, 'c.pem')], { TRL_AUTH_TOKEN: token }, port);
      assert.equal(half.code, 1, half.out);
      assert.match(half.out, /--tls-cert .* without --tls-key/);
      const missing = path.join(dir, 'missing-cert.pem');
      const gone = await refusesToStart(['--http', `127.0.0.1:${port}`, '--tls-cert', missing, '--tls-key', path.join(dir, 'k.pem')], { TRL_AUTH_TOKEN: token }, port);
      assert.equal(gone.code, 1, gone.out);
      assert.ok(gone.out.includes(missing), `the message does not name ${missing}:\n${gone.out}`);
      const junk = path.join(dir, 'junk.pem');
      fs.writeFileSync(junk, 'not a certificate\n');
      const bad = await refusesToStart(['--http', `127.0.0.1:${port}`, '--tls-cert', junk, '--tls-key', junk], { TRL_AUTH_TOKEN: token }, port);
      assert.equal(bad.code, 1, bad.out);
      assert.ok(bad.out.includes(junk), bad.out);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to serve nothing (TRL_UNIX_SOCKET=0 without --http)', async () => {
    const { code, out } = await refusesToStart([], { TRL_UNIX_SOCKET: '0' });
    assert.equal(code, 1, out);
    assert.match(out, /nothing to serve/);
  });
});

describe('bearer token on every request', () => {
  const h = useHttpDaemon();
  after(() => {
    assert.ok(!h.d.logs().includes(h.token), 'the daemon logged its token');
  });

  const body = JSON.stringify({ id: 1, method: 'system.ping', params: {} });
  const post = (headers: Record<string, string>, url = `${h.url}/v1/rpc`) => request(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });

  function assert401(a: Awaited<ReturnType<typeof request>>, what: string): void {
    assert.equal(a.status, 401, `${what}: status ${a.status} ${a.body}`);
    assert.match(String(a.headers['www-authenticate']), /^Bearer/, `${what}: WWW-Authenticate`);
    assert.equal(a.json?.ok, false, what);
    assert.equal(a.json?.error?.code, 'AUTH_FAILED', what);
    assert.match(a.json.error.message, /Authorization: Bearer/, what);
    assert.ok(!a.body.includes(h.token), `${what}: the answer contains the token`);
    assert.ok(!JSON.stringify(a.headers).includes(h.token), `${what}: a header contains the token`);
  }

  it('answers 401 AUTH_FAILED without a token, with a wrong one, and with one that differs in the last character', async () => {
    assert401(await post({}), 'no token');
    assert401(await post({ Authorization: `Bearer ${makeToken()}` }), 'wrong token');
    const last = h.token.slice(0, -1) + (h.token.endsWith('0') ? '1' : '0');
    assert401(await post({ Authorization: `Bearer ${last}` }), 'last character differs');
    assert401(await post({ Authorization: `Bearer ${h.token.slice(0, -1)}` }), 'one character short');
    assert401(await post({ Authorization: `Bearer ${h.token}x` }), 'one character long');
    assert401(await post({ Authorization: `Basic ${Buffer.from(`trl:${h.token}`).toString('base64')}` }), 'Basic scheme');
    assert401(await post({}, `${h.url}/v1/rpc?token=${h.token}`), 'token in the query string');
    assert401(await post({ Authorization: 'Bearer' }), 'empty bearer');
  });

  it('checks the token before anything else: unknown paths and wrong methods answer 401 too', async () => {
    assert401(await request(`${h.url}/nope`), 'GET /nope');
    assert401(await request(`${h.url}/v1/rpc`), 'GET /v1/rpc');
  });

  it('accepts the right token, with the scheme in any case', async () => {
    const ok = await post({ Authorization: `Bearer ${h.token}` });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.ok, true);
    assert.equal((await post({ Authorization: `bearer ${h.token}` })).status, 200);
  });

  it('the SDK reports AUTH_FAILED for a wrong token', async () => {
    await assert.rejects(TrlHttpClient.connect({ url: h.url, token: makeToken() }), (e: unknown) => e instanceof TrlClientError && e.code === 'AUTH_FAILED');
  });

  it('refuses a WebSocket upgrade without the token (401, before upgrading)', async () => {
    const refused = async (opts: Parameters<typeof openWs>[1], what: string) => {
      const err = (await openWs(h, opts).then(
        (ws) => {
          ws.close();
          assert.fail(`${what}: the upgrade succeeded`);
        },
        (e: unknown) => e,
      )) as { status?: number; json?: any; headers?: Record<string, string> };
      assert.equal(err.status, 401, `${what}: ${String(err)}`);
      assert.equal(err.json?.error?.code, 'AUTH_FAILED', what);
      assert.match(String(err.headers?.['www-authenticate']), /^Bearer/, what);
    };
    await refused({}, 'no token');
    await refused({ token: makeToken() }, 'wrong token');
    await refused({ token: h.token.slice(0, -1) + (h.token.endsWith('a') ? 'b' : 'a') }, 'last character differs');
    await refused({ path: `/v1/ws?token=${h.token}` }, 'token in the query string');
    await refused({ protocols: ['trl.v1', `bearer.${makeToken()}`] }, 'wrong subprotocol token');
  });

  it('accepts the token as Authorization or as the bearer.<token> subprotocol (beside trl.v1, which is selected)', async () => {
    const a = await openWs(h, { token: h.token });
    a.send({ id: 1, method: 'system.ping' });
    assert.equal((await a.next()).ok, true);
    a.close();
    const b = await openWs(h, { protocols: ['trl.v1', `bearer.${h.token}`] });
    assert.equal(b.ws.protocol, 'trl.v1', 'the server must select trl.v1, never echo the token');
    b.send({ id: 2, method: 'system.ping' });
    assert.equal((await b.next()).id, 2);
    b.close();
    const alone = await openWs(h, { protocols: [`bearer.${h.token}`] }).then(
      () => null,
      (e: { status?: number }) => e,
    );
    assert.equal(alone?.status, 400, 'bearer.<token> without trl.v1 is refused with a hint');
  });
});

describe('CORS', () => {
  const listed = 'https://app.example.com';
  const plain = useHttpDaemon();
  const cors = useHttpDaemon({ flags: ['--cors-origin', `${listed}, http://localhost:5173`] });

  const preflight = (h: HttpDaemon, origin: string) =>
    request(`${h.url}/v1/rpc`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' } });
  const acHeaders = (headers: Record<string, unknown>) => Object.keys(headers).filter((k) => k.startsWith('access-control-'));

  it('without --cors-origin: no CORS header at all, even on a preflight', async () => {
    const p = await preflight(plain, listed);
    assert.ok(p.status < 300, `preflight status ${p.status}`);
    assert.deepEqual(acHeaders(p.headers), []);
    const r = await rpc(plain, 'system.ping', {}, 1, { Origin: listed });
    assert.equal(r.status, 200);
    assert.deepEqual(acHeaders(r.headers), []);
  });

  it('a preflight needs no token; an unlisted origin gets no Access-Control-* header', async () => {
    const p = await preflight(cors, 'https://evil.example.com');
    assert.ok(p.status < 300, `preflight status ${p.status}`);
    assert.deepEqual(acHeaders(p.headers), []);
    assert.match(String(p.headers.vary), /Origin/);
    const r = await rpc(cors, 'system.ping', {}, 1, { Origin: 'https://evil.example.com' });
    assert.deepEqual(acHeaders(r.headers), []);
  });

  it('a listed origin is echoed (never *), with Vary: Origin and the allowed headers and methods', async () => {
    const p = await preflight(cors, listed);
    assert.equal(p.status, 204);
    assert.equal(p.headers['access-control-allow-origin'], listed);
    assert.match(String(p.headers.vary), /Origin/);
    assert.match(String(p.headers['access-control-allow-headers']), /Authorization/);
    assert.match(String(p.headers['access-control-allow-headers']), /Content-Type/);
    assert.match(String(p.headers['access-control-allow-methods']), /POST/);
    const p2 = await preflight(cors, 'http://localhost:5173');
    assert.equal(p2.headers['access-control-allow-origin'], 'http://localhost:5173');
    const r = await rpc(cors, 'system.ping', {}, 1, { Origin: listed });
    assert.equal(r.headers['access-control-allow-origin'], listed);
    const denied = await request(`${cors.url}/v1/rpc`, { method: 'POST', headers: { Origin: listed }, body: '{}' });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['access-control-allow-origin'], listed, 'a listed page can read why it was refused');
  });

  it('a WebSocket from an unlisted page origin is refused even with the token', async () => {
    const err = (await openWs(cors, { token: cors.token, origin: 'https://evil.example.com' }).then(
      () => assert.fail('upgrade succeeded'),
      (e: unknown) => e,
    )) as { status?: number };
    assert.equal(err.status, 403);
    const ok = await openWs(cors, { token: cors.token, origin: listed });
    ok.close();
  });
});
