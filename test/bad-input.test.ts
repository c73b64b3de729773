/**
 * Bad input of every kind is answered with the right code and an actionable
 * message, leaves nothing behind, and never takes the daemon (or, except for an
 * over-long line, the connection) down. PROTOCOL §1–3, §5, §6.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { connect, expectCode, issuePaths, type TrlClient } from './helpers/client.js';
import { makeTempDir } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { rawCall, rawConnect, type RawConnection } from './helpers/raw-connection.js';

const MAX_REQ = 65536;
const UNKNOWN_ID = '6f1c2a9e-0000-4000-8000-00000000beef';

describe('bad input', () => {
  const { d, c } = useDaemon({ flags: ['--max-request-bytes', String(MAX_REQ)] });
  let work: string;
  let sid: string;

  before(async () => {
    work = fs.realpathSync(makeTempDir('/tmp/trl-bad-'));
    fs.writeFileSync(path.join(work, 'a-file'), 'x');
    fs.writeFileSync(path.join(work, 'not-exec'), '#!/bin/sh\n', { mode: 0o644 });
    sid = (await c.call('session.create', { working_dir: work })).session_id;
  });
  let stopped = false;
  afterEach(async () => {
    if (stopped) return;
    // the daemon survives every kind of bad input
    assert.equal(d.hasExited(), false, `the daemon exited; stderr tail:\n${d.stderr().slice(-2000)}`);
    const fresh = await connect(d);
    const pong = await fresh.call('system.ping', {});
    assert.equal(pong.version, PROTOCOL_VERSION);
    fresh.close();
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const sessionCount = async () => (await c.call('session.list', {})).sessions.length;

  /** INVALID_PARAMS whose message names `field`, and whose details.issues (if schema-level) name it too. */
  async function invalid(method: string, params: Record<string, unknown>, field: string) {
    const e = await expectCode(c, method, params, 'INVALID_PARAMS');
    assert.ok(e.message.includes(field), `message does not name \`${field}\`: ${e.message}`);
    return e;
  }

  it('a shell that does not exist → SPAWN_FAILED, and no session is left behind', async () => {
    const before = await sessionCount();
    const e = await expectCode(c, 'session.create', { shell: '/no/such/shell' }, 'SPAWN_FAILED');
    assert.ok(e.message.includes('/no/such/shell'), `message does not name the shell: ${e.message}`);
    assert.equal(await sessionCount(), before);
    // not executable, and a directory
    await expectCode(c, 'session.create', { shell: path.join(work, 'not-exec') }, 'SPAWN_FAILED');
    await expectCode(c, 'session.create', { shell: work }, 'SPAWN_FAILED');
    assert.equal(await sessionCount(), before);
  });

  it('a relative shell path → INVALID_PARAMS naming shell', async () => {
    const e = await invalid('session.create', { shell: 'sh' }, 'shell');
    assert.ok(issuePaths(e).includes('shell'), `details.issues: ${JSON.stringify(e.details)}`);
  });

  it('working_dir missing, relative or not a directory → INVALID_PARAMS naming working_dir', async () => {
    const before = await sessionCount();
    await invalid('session.create', { working_dir: path.join(work, 'missing') }, 'working_dir');
    const rel = await invalid('session.create', { working_dir: 'tmp' }, 'working_dir');
    assert.ok(issuePaths(rel).includes('working_dir'), `details.issues: ${JSON.stringify(rel.details)}`);
    await invalid('session.create', { working_dir: path.join(work, 'a-file') }, 'working_dir');
    await invalid('session.create', { working_dir: '' }, 'working_dir');
    assert.equal(await sessionCount(), before);
    // and per command, in a session and in an ephemeral one
    await invalid('exec.run', { session_id: sid, command: 'pwd', working_dir: path.join(work, 'missing') }, 'working_dir');
    await invalid('exec.run', { session_id: sid, command: 'pwd', working_dir: 'a-file' }, 'working_dir');
    await invalid('exec.run', { command: 'pwd', working_dir: '/no/such/dir' }, 'working_dir');
    assert.equal(await sessionCount(), before, 'a failed ephemeral exec.run left a session behind');
  });

  it('bad env names → INVALID_PARAMS naming env', async () => {
    for (const bad of ['1ABC', 'A-B', 'A=B', '', 'A B', 'É']) {
      const e = await invalid('session.create', { env: { [bad]: 'x' } }, 'env');
      assert.ok(
        issuePaths(e).some((p) => p.startsWith('env')),
        `details.issues for ${JSON.stringify(bad)}: ${JSON.stringify(e.details)}`,
      );
      await invalid('exec.run', { session_id: sid, command: 'true', env: { [bad]: 'x' } }, 'env');
    }
    await invalid('session.update', { session_id: sid, unset_env: ['NOT-VALID'] }, 'unset_env');
  });

  it('a NUL byte in an env value → INVALID_PARAMS naming env', async () => {
    await invalid('session.create', { env: { GOOD: 'a\u0000b' } }, 'env');
    await invalid('exec.run', { session_id: sid, command: 'true', env: { GOOD: 'a\u0000b' } }, 'env');
    await invalid('exec.run', { session_id: sid, command: 'true', env: { GOOD: 5 } }, 'env');
  });

  it('an unknown params field → INVALID_PARAMS naming that field', async () => {
    const e1 = await invalid('exec.run', { session_id: sid, command: 'true', timeout: 5 }, 'timeout');
    assert.ok(JSON.stringify(e1.details ?? {}).includes('timeout'), `details: ${JSON.stringify(e1.details)}`);
    await invalid('session.create', { shel: '/bin/sh' }, 'shel');
    await invalid('session.destroy', { session_id: sid, forse: true }, 'forse');
    await invalid('system.ping', { extra_field_xyz: 1 }, 'extra_field_xyz');
    // the session was not destroyed by the typo'd call
    assert.equal((await c.call('session.info', { session_id: sid })).session_id, sid);
  });

  it('wrong types → INVALID_PARAMS naming the field', async () => {
    await invalid('exec.run', { session_id: sid, command: 123 }, 'command');
    await invalid('exec.run', { session_id: sid, command: 'true', timeout_s: 'ten' }, 'timeout_s');
    await invalid('exec.run', { session_id: sid, command: 'true', timeout_s: -1 }, 'timeout_s');
    await invalid('exec.run', { session_id: sid, argv: 'ls -l' }, 'argv');
    await invalid('exec.run', { session_id: sid, command: 'true', persist_state: 'no' }, 'persist_state');
    await invalid('exec.run', { session_id: sid, command: 'true', encoding: 'latin1' }, 'encoding');
    await invalid('exec.run', { session_id: sid, command: 'true', max_output_bytes: 0 }, 'max_output_bytes');
    await invalid('session.create', { timeout_s: 1.5 }, 'timeout_s');
    await invalid('session.create', { name: 42 }, 'name');
    await invalid('session.destroy', { session_id: 7 }, 'session_id');
  });

  it('exec.run needs exactly one of command and argv', async () => {
    await invalid('exec.run', { session_id: sid }, 'command');
    await invalid('exec.run', { session_id: sid, command: 'true', argv: ['true'] }, 'command');
    await invalid('exec.run', { session_id: sid, command: '' }, 'command');
  });

  it('unknown method → METHOD_NOT_FOUND naming it, with the id echoed', async () => {
    const conn = await rawConnect(d.socketPath);
    const r = await rawCall(conn, 'm-1', 'exec.nope', {});
    assert.equal(r.id, 'm-1');
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, 'METHOD_NOT_FOUND');
    assert.ok(r.error?.message.includes('exec.nope'), r.error?.message);
    const r2 = await rawCall(conn, 77, '__proto__', {});
    assert.equal(r2.id, 77);
    assert.equal(r2.error?.code, 'METHOD_NOT_FOUND');
    const r3 = await rawCall(conn, 78, 'toString', {});
    assert.equal(r3.error?.code, 'METHOD_NOT_FOUND');
    conn.close();
  });

  it('invalid JSON → INVALID_PARAMS with id null, and the connection stays usable', async () => {
    const conn = await rawConnect(d.socketPath);
    for (const bad of ['{not json', '[1,2,3]', '"a string"', '42', 'null', '{"id": 1, "method": "system.ping", "params": ']) {
      conn.send(bad);
      const r = await conn.next();
      assert.equal(r.id, null, `response to ${bad}: ${JSON.stringify(r)}`);
      assert.equal(r.ok, false);
      assert.equal(r.error?.code, 'INVALID_PARAMS', `response to ${bad}: ${JSON.stringify(r)}`);
      assert.ok((r.error?.message.length ?? 0) > 0);
    }
    const ok = await rawCall(conn, 'after-bad-json', 'system.ping');
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.equal(conn.isClosed(), false);
    conn.close();
  });

  it('a request without a usable id is answered with id null', async () => {
    const conn = await rawConnect(d.socketPath);
    for (const req of [
      { method: 'system.ping' },
      { id: { x: 1 }, method: 'system.ping' },
      { id: [1], method: 'system.ping' },
      { id: 1.5, method: 'system.ping' },
      { id: true, method: 'system.ping' },
    ]) {
      conn.send(req);
      const r = await conn.next();
      assert.equal(r.id, null, `response to ${JSON.stringify(req)}: ${JSON.stringify(r)}`);
    }
    // string and integer ids are echoed unchanged
    assert.equal((await rawCall(conn, 'str-id-ü', 'system.ping')).id, 'str-id-ü');
    assert.equal((await rawCall(conn, 0, 'system.ping')).id, 0);
    assert.equal((await rawCall(conn, -5, 'system.ping')).id, -5);
    conn.close();
  });

  it('malformed envelopes: method missing or not a string, params not an object', async () => {
    const conn = await rawConnect(d.socketPath);
    conn.send({ id: 'nm' });
    const r1 = await conn.next();
    assert.equal(r1.id, 'nm');
    assert.ok(r1.error?.code === 'INVALID_PARAMS' || r1.error?.code === 'METHOD_NOT_FOUND', JSON.stringify(r1));
    conn.send({ id: 'nm2', method: 5 });
    const r2 = await conn.next();
    assert.equal(r2.id, 'nm2');
    assert.ok(r2.error?.code === 'INVALID_PARAMS' || r2.error?.code === 'METHOD_NOT_FOUND', JSON.stringify(r2));
    for (const params of [[1, 2], 'str', 5, true]) {
      conn.send({ id: 'p', method: 'system.ping', params });
      const r = await conn.next();
      assert.equal(r.id, 'p');
      assert.equal(r.error?.code, 'INVALID_PARAMS', `params ${JSON.stringify(params)}: ${JSON.stringify(r)}`);
    }
    // params omitted is {}
    const ok = await rawCall(conn, 'no-params', 'system.ping');
    assert.equal(ok.ok, true);
    conn.close();
  });

  it('a line just under max_request_bytes is served', async () => {
    const conn = await rawConnect(d.socketPath);
    const stdin = 'y'.repeat(MAX_REQ - 400);
    const line = JSON.stringify({ id: 'big-ok', method: 'exec.run', params: { session_id: sid, command: 'wc -c', stdin } });
    assert.ok(Buffer.byteLength(line) + 1 < MAX_REQ);
    const r = await rawCall(conn, 'big-ok', 'exec.run', { session_id: sid, command: 'wc -c', stdin });
    assert.equal(r.ok, true, JSON.stringify(r).slice(0, 500));
    assert.equal(String(r.data.stdout).trim(), String(stdin.length));
    conn.close();
  });

  it('an over-long line → REQUEST_TOO_LARGE, then the connection is closed', async () => {
    const conn = await rawConnect(d.socketPath);
    const stdin = 'z'.repeat(MAX_REQ + 10);
    conn.send({ id: 'too-big', method: 'exec.run', params: { session_id: sid, command: 'wc -c', stdin } });
    const r = await conn.next();
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, 'REQUEST_TOO_LARGE');
    assert.ok(r.id === null || r.id === 'too-big', `id ${JSON.stringify(r.id)}`);
    await conn.waitClosed();
    // other connections are unaffected
    assert.equal((await c.call('session.info', { session_id: sid })).session_id, sid);
  });

  it('an over-long line without a newline is refused as soon as it crosses the limit (not buffered forever)', async () => {
    const conn = await rawConnect(d.socketPath);
    conn.write('{"id":"endless","method":"system.ping","params":{"pad":"' + 'p'.repeat(MAX_REQ * 3));
    const r = await conn.next();
    assert.equal(r.error?.code, 'REQUEST_TOO_LARGE');
    await conn.waitClosed();
  });

  it('unknown session id → SESSION_NOT_FOUND naming it, for every session method', async () => {
    for (const [method, params] of [
      ['exec.run', { session_id: UNKNOWN_ID, command: 'true' }],
      ['session.info', { session_id: UNKNOWN_ID }],
      ['session.update', { session_id: UNKNOWN_ID, env: { A: 'b' } }],
      ['session.destroy', { session_id: UNKNOWN_ID }],
    ] as const) {
      const e = await expectCode(c, method, params, 'SESSION_NOT_FOUND');
      assert.ok(e.message.includes(UNKNOWN_ID), `${method}: message does not name the id: ${e.message}`);
    }
  });

  it('a destroyed session is gone for good', async () => {
    const s = await c.call('session.create', {});
    await c.call('session.destroy', { session_id: s.session_id });
    await expectCode(c, 'exec.run', { session_id: s.session_id, command: 'true' }, 'SESSION_NOT_FOUND');
    await expectCode(c, 'session.info', { session_id: s.session_id }, 'SESSION_NOT_FOUND');
    await expectCode(c, 'session.destroy', { session_id: s.session_id }, 'SESSION_NOT_FOUND');
    const list = await c.call('session.list', {});
    assert.ok(!list.sessions.some((x) => x.session_id === s.session_id));
  });

  it('session names are unique among live sessions', async () => {
    const name = `dup-${process.pid}`;
    const s = await c.call('session.create', { name });
    const e = await callErrAny(c, 'session.create', { name });
    assert.ok(e.message.includes(name), `message does not name the duplicate name: ${e.message}`);
    await c.call('session.destroy', { session_id: s.session_id });
    // free again once the first one is gone
    const s2 = await c.call('session.create', { name });
    await c.call('session.destroy', { session_id: s2.session_id });
  });

  it('several bad requests pipelined on one connection each get their own answer', async () => {
    const conn: RawConnection = await rawConnect(d.socketPath);
    conn.write(
      [
        JSON.stringify({ id: 1, method: 'nope.nope' }),
        '{broken',
        JSON.stringify({ id: 2, method: 'exec.run', params: { command: 'true', bogus: 1 } }),
        JSON.stringify({ id: 3, method: 'system.ping' }),
      ].join('\n') + '\n',
    );
    const got = [await conn.next(), await conn.next(), await conn.next(), await conn.next()];
    const byId = new Map(got.map((r) => [r.id as number | null, r]));
    assert.equal(byId.get(1)?.error?.code, 'METHOD_NOT_FOUND');
    assert.equal(byId.get(null)?.error?.code, 'INVALID_PARAMS');
    assert.equal(byId.get(2)?.error?.code, 'INVALID_PARAMS');
    assert.equal(byId.get(3)?.ok, true);
    conn.close();
  });

  it('after all that bad input, SIGTERM still shuts the daemon down cleanly (exit 0, socket removed)', async () => {
    // leave one connection mid-way through an over-long line, and one idle connection, open
    const partial = await rawConnect(d.socketPath);
    partial.write('{"id":"endless","method":"system.ping","params":{"pad":"' + 'p'.repeat(MAX_REQ * 2));
    assert.equal((await partial.next()).error?.code, 'REQUEST_TOO_LARGE');
    const idle = await rawConnect(d.socketPath);
    c.close();
    stopped = true;
    const code = await d.stop();
    assert.equal(code, 0, `exit code ${String(code)} after SIGTERM; log tail:\n${d.stderr().slice(-1000)}`);
    assert.equal(fs.existsSync(d.socketPath), false, 'socket left behind');
    partial.close();
    idle.close();
  });
});

async function callErrAny(c: TrlClient, method: string, params: Record<string, unknown>) {
  try {
    const data = await c.call(method, params);
    assert.fail(`${method} succeeded but an error was expected: ${JSON.stringify(data)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    return e as Error & { code: string };
  }
}
