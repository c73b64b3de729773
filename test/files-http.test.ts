/**
 * Issue 13, large files over HTTP: `GET`/`PUT /v1/files` with the bearer
 * token, the same jail as fs.*, max_upload_bytes checked before anything is
 * written, and every upload in the audit log (path, size, hash; never the
 * content).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir } from './helpers/daemon.js';
import { request, rpc, startHttpDaemon, type HttpDaemon } from './helpers/http.js';

describe('files over HTTP: GET/PUT /v1/files', () => {
  let h: HttpDaemon;
  let dir: string;
  let ws: string;
  let sid: string;
  const auditFile = () => path.join(dir, 'audit.log');
  const url = (rel: string, extra = '') => `${h.url}/v1/files?session_id=${sid}&path=${encodeURIComponent(rel)}${extra}`;
  const auth = () => ({ Authorization: `Bearer ${h.token}` });

  before(async () => {
    dir = makeTempDir();
    ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    h = await startHttpDaemon({ flags: ['--audit-log', auditFile(), '--max-upload-bytes', '4096'] });
    sid = (await rpc(h, 'session.create', { workspace: ws })).json.data.session_id;
  });
  after(async () => {
    await h?.d.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('uploads and downloads whole files and ranges, with the token only', async () => {
    const secret = 'uploaded-content-never-logged-91c2';
    const body = `${secret}\n`;
    assert.equal((await request(url('up/a.txt', '&make_parents=1'), { method: 'PUT', body })).status, 401, 'no token, no upload');
    assert.ok(!fs.existsSync(path.join(ws, 'up/a.txt')));
    const put = await request(url('up/a.txt', '&make_parents=1&mode=0640'), { method: 'PUT', body, headers: auth() });
    assert.equal(put.status, 200, put.body);
    assert.equal(put.json.data.size, body.length);
    assert.equal(put.json.data.sha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(fs.readFileSync(path.join(ws, 'up/a.txt'), 'utf8'), body);
    assert.equal(fs.statSync(path.join(ws, 'up/a.txt')).mode & 0o777, 0o640);
    const again = await request(url('up/a.txt'), { method: 'PUT', body: 'other', headers: auth() });
    assert.equal(again.status, 409);
    assert.equal(again.json.error.code, 'PATH_EXISTS');
    const get = await request(url('up/a.txt'), { headers: auth() });
    assert.equal(get.status, 200);
    assert.equal(get.body, body);
    assert.equal(get.headers['x-trl-size'], String(body.length));
    const range = await request(url('up/a.txt', '&offset=9&length=7'), { headers: auth() });
    assert.equal(range.body, body.slice(9, 16));
    // Every upload is audited by path, size and hash; the content never is.
    const records = fs
      .readFileSync(auditFile(), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const rec = records.find((r) => r.method === 'fs.put' && String(r.path).endsWith('up/a.txt'));
    assert.ok(rec, 'the upload is in the audit log');
    assert.equal(rec.size, body.length);
    assert.equal(rec.sha256, put.json.data.sha256);
    assert.ok(!fs.readFileSync(auditFile(), 'utf8').includes(secret), 'no content in the audit log');
  });

  it('keeps the jail and the upload limit: outside paths 403, too large 413 with nothing written', async () => {
    const out = await request(url('../escaped.txt'), { method: 'PUT', body: 'x', headers: auth() });
    assert.equal(out.status, 403);
    assert.equal(out.json.error.code, 'PATH_OUTSIDE_WORKSPACE');
    assert.ok(!fs.existsSync(path.join(dir, 'escaped.txt')));
    fs.symlinkSync('/etc', path.join(ws, 'etc-link'));
    const through = await request(url('etc-link/hostname'), { headers: auth() });
    assert.equal(through.status, 403);
    const big = await request(url('big.bin'), { method: 'PUT', body: Buffer.alloc(5000, 1), headers: auth() });
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, 'FILE_TOO_LARGE');
    assert.ok(!fs.existsSync(path.join(ws, 'big.bin')));
    const missing = await request(url('nope.txt'), { headers: auth() });
    assert.equal(missing.status, 404);
  });

  it('refuses an offset or length no file has (more than 15 digits) as a bad parameter, not an internal error', async () => {
    fs.writeFileSync(path.join(ws, 'small.txt'), 'small\n');
    for (const extra of ['&length=99999999999999999999999', '&offset=1000000000000000000000', '&length=1e3', '&offset=-1']) {
      const r = await request(url('small.txt', extra), { headers: auth() });
      assert.equal(r.status, 400, `${extra}: ${r.status} ${r.body}`);
      assert.equal(r.json.error.code, 'INVALID_PARAMS', extra);
      assert.match(r.json.error.message, /whole number of bytes/, extra);
    }
    const whole = await request(url('small.txt', '&offset=0&length=999999999999999'), { headers: auth() });
    assert.equal(whole.status, 200, whole.body);
    assert.equal(whole.body, 'small\n');
  });
});
