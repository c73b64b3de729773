/**
 * The audit log's anchors, checked on logs written by the real AuditLog into
 * temporary files: the keyed chain (a MAC per line under the audit key), the
 * sidecar head FILE.head and pinned heads (HASH:LINES), what `verifyAudit`
 * reports as checked and not checked, and when a restarting daemon refuses to
 * continue a log (AuditLog.open).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { after, describe, it } from 'node:test';
import { AuditKey, AuditKeyError, loadAuditKey } from '../../src/runtime/audit-key.js';
import { formatPin, headPathOf, parseHead } from '../../src/runtime/audit-head.js';
import { AuditLog, AuditRefusal } from '../../src/runtime/audit-log.js';
import { verifyAudit, type GivenHead } from '../../src/runtime/audit-verify.js';

const GENESIS = '0'.repeat(64);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const newKey = () => randomBytes(32).toString('hex');

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync('/tmp/trl-audit-unit-');
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A log of `n` lines written by AuditLog (closed), its text and its sidecar head. */
/** A log of `n` lines; `tag` marks its commands (two logs written in the same millisecond are otherwise the same lines). */
function writeLog(n: number, key: AuditKey | null, file = path.join(tempDir(), 'audit.jsonl'), tag = ''): { file: string; text: string; lines: string[]; sidecar: GivenHead } {
  const { audit } = AuditLog.open(file, key);
  for (let i = 0; i < n; i++) audit.write({ method: 'exec.run', command_id: `c${i}`, command: `echo ${tag}${i}` });
  audit.close();
  const text = fs.readFileSync(file, 'utf8');
  return { file, text, lines: text.slice(0, -1).split('\n'), sidecar: sidecarOf(file) };
}

function sidecarOf(file: string): GivenHead {
  return { ...parseHead(fs.readFileSync(headPathOf(file), 'utf8')), source: 'sidecar', path: headPathOf(file) };
}

/** Recompute the plain sha256 chain over `records` (as someone without the key would), dropping key fields unless told. */
function rechain(records: Array<Record<string, unknown>>, keepKeyFields = false): string {
  let prev = GENESIS;
  const out: string[] = [];
  for (const r of records) {
    const { hash: _h, mac, ...rest } = r;
    if (!keepKeyFields) {
      delete rest.kid;
      delete rest.mac_alg;
    }
    delete rest.prev;
    const rec = { ...rest, prev };
    const body = JSON.stringify(rec);
    const hash = sha256(`${prev}\n${body}`);
    out.push(JSON.stringify({ ...rec, hash, ...(keepKeyFields && mac !== undefined ? { mac } : {}) }));
    prev = hash;
  }
  return out.join('\n') + '\n';
}

const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('keyed audit chain', () => {
  const secret = newKey();
  const key = new AuditKey(secret);

  it('a keyed daemon MACs every line and its head; the key id is a fingerprint, never the key', () => {
    const { text, lines, sidecar } = writeLog(4, key);
    assert.match(key.id, /^[0-9a-f]{16}$/);
    assert.equal(new AuditKey(secret).id, key.id, 'the id depends on the key only');
    assert.notEqual(new AuditKey(newKey()).id, key.id);
    for (const [i, e] of parse(lines).entries()) {
      assert.equal(e.mac_alg, 'hmac-sha256', `line ${i + 1}`);
      assert.equal(e.kid, key.id, `line ${i + 1}`);
      assert.match(String(e.mac), /^[0-9a-f]{64}$/, `line ${i + 1}`);
    }
    assert.equal(sidecar.lines, 4);
    assert.equal(sidecar.kid, key.id);
    assert.match(sidecar.mac ?? '', /^[0-9a-f]{64}$/);
    assert.ok(!text.includes(secret) && !fs.readFileSync(sidecar.path!, 'utf8').includes(secret));
    assert.ok(!inspect(key).includes(secret) && !JSON.stringify({ key }).includes(secret), 'the key shows when printed');
  });

  it('verifies with the key; without it, says what was not checked; with another key, fails at line 1', () => {
    const { text, sidecar } = writeLog(5, key);
    const withKey = verifyAudit(text, { key, head: sidecar });
    assert.equal(withKey.ok, true, withKey.reason);
    assert.equal(withKey.authenticatedWith, key.id);
    assert.deepEqual(withKey.headChecked && [withKey.headChecked.lines, withKey.headChecked.authenticated], [5, true]);
    assert.ok(!withKey.notChecked.some((n) => n.startsWith('authenticity')), withKey.notChecked.join('\n'));

    const noKey = verifyAudit(text, { head: sidecar });
    assert.equal(noKey.ok, true);
    assert.equal(noKey.authenticatedWith, null);
    assert.deepEqual(noKey.keyIds, [key.id]);
    assert.ok(
      noKey.notChecked.some((n) => n.startsWith('authenticity: no key given')),
      noKey.notChecked.join('\n'),
    );

    const other = new AuditKey(newKey());
    const wrong = verifyAudit(text, { key: other });
    assert.equal(wrong.ok, false);
    assert.equal(wrong.brokenLine, 1);
    assert.match(wrong.reason!, new RegExp(`key id ${key.id}, not under the given key \\(id ${other.id}\\)`));
  });

  it('a rewrite with a recomputed sha256 chain fails under the key (with or without the old MACs)', () => {
    const { lines } = writeLog(6, key);
    const recs = parse(lines);
    recs[3]!.command = 'true';
    const plain = rechain(recs);
    assert.equal(verifyAudit(plain).ok, true, 'the rewritten chain is sound without the key: only the key tells');
    const r1 = verifyAudit(plain, { key });
    assert.deepEqual([r1.ok, r1.brokenLine], [false, 1]);
    assert.match(r1.reason!, /carries no MAC/);
    // keeping kid, mac_alg and the old MACs: lines 1-3 still verify, line 4 (edited) does not
    const kept = rechain(recs, true);
    const r2 = verifyAudit(kept, { key });
    assert.deepEqual([r2.ok, r2.brokenLine], [false, 4], r2.reason);
    assert.match(r2.reason!, /MAC does not verify/);
  });

  it('lines added to a keyed log without the key are named even without the key', () => {
    const { lines } = writeLog(3, key);
    const recs = parse(lines);
    // the attacker extends the chain correctly but cannot MAC: a line without key fields
    const last = recs[2]!;
    const body = JSON.stringify({ time: last.time, method: 'session.destroy', session_id: 'x', prev: last.hash });
    const added = `${lines.join('\n')}\n${body.slice(0, -1)},"hash":"${sha256(`${last.hash as string}\n${body}`)}"}\n`;
    const r = verifyAudit(added);
    assert.deepEqual([r.ok, r.brokenLine], [false, 4], r.reason);
    assert.match(r.reason!, /no MAC while line 1 is keyed/);
  });

  it('a malformed key field and an incomplete last line are named', () => {
    const { lines } = writeLog(3, key);
    const stripped = [...lines];
    stripped[1] = stripped[1]!.replace(/,"mac":"[0-9a-f]{64}"/, '');
    const r = verifyAudit(stripped.join('\n') + '\n');
    assert.deepEqual([r.ok, r.brokenLine], [false, 2], r.reason);
    assert.match(r.reason!, /key fields are malformed/);
    const cut = lines.join('\n') + '\n' + lines[2]!.slice(0, 40);
    const r2 = verifyAudit(cut);
    assert.deepEqual([r2.ok, r2.brokenLine], [false, 4], r2.reason);
    assert.match(r2.reason!, /incomplete/);
  });
});

describe('audit heads', () => {
  const key = new AuditKey(newKey());

  it('a cut tail is named by the sidecar head and by a pinned head, keyed or not', () => {
    for (const k of [null, key]) {
      const { text, lines, sidecar } = writeLog(8, k);
      const pin = verifyAudit(text, { key: k }).head;
      assert.equal(pin, formatPin(sidecar));
      const cut = lines.slice(0, 5).join('\n') + '\n';
      assert.equal(verifyAudit(cut, { key: k }).ok, true, 'without a head, a cut tail goes unseen');
      for (const head of [sidecar, { ...parseHead(pin), source: 'pinned' as const }]) {
        const r = verifyAudit(cut, { key: k, head });
        assert.deepEqual([r.ok, r.brokenLine], [false, 6], `${head.source}, key ${String(k?.id)}: ${r.reason}`);
        assert.match(r.reason!, /the log ends at line 5 but .* says it has 8 lines \(the tail was cut\)/);
      }
      // the whole log emptied
      const r0 = verifyAudit('', { key: k, head: sidecar });
      assert.deepEqual([r0.ok, r0.brokenLine], [false, 1]);
    }
  });

  it('a head of another log, or a rewritten prefix, is named at the head line; later lines are reported', () => {
    const a = writeLog(4, null, undefined, 'a');
    const b = writeLog(6, null, undefined, 'b');
    const r = verifyAudit(b.text, { head: { ...parseHead(a.text && verifyAudit(a.text).head), source: 'pinned' } });
    assert.deepEqual([r.ok, r.brokenLine], [false, 4], r.reason);
    const pinned = { ...parseHead(verifyAudit(b.lines.slice(0, 3).join('\n') + '\n').head), source: 'pinned' as const };
    const grown = verifyAudit(b.text, { head: pinned });
    assert.equal(grown.ok, true, grown.reason);
    assert.deepEqual(grown.headChecked && [grown.headChecked.lines, grown.headChecked.linesAfter], [3, 3]);
  });

  it('a forged or unkeyed sidecar head of a keyed log fails; a pin carries no MAC and is trusted as given', () => {
    const { file, text, lines } = writeLog(5, key);
    const cut = lines.slice(0, 3).join('\n') + '\n';
    const headOf3 = parseHead(verifyAudit(cut).head);
    // someone without the key recomputes the head for the cut log
    const unkeyed: GivenHead = { ...headOf3, source: 'sidecar', path: headPathOf(file) };
    for (const k of [null, key]) {
      const r = verifyAudit(cut, { key: k, head: unkeyed });
      assert.deepEqual([r.ok, r.brokenLine], [false, 3], r.reason);
      assert.match(r.reason!, /carries no MAC although the log is keyed/);
    }
    const forged: GivenHead = { ...headOf3, time: new Date().toISOString(), kid: key.id, mac: 'ab'.repeat(32), source: 'sidecar', path: headPathOf(file) };
    const r = verifyAudit(cut, { key, head: forged });
    assert.deepEqual([r.ok, r.brokenLine], [false, 3], r.reason);
    assert.match(r.reason!, /does not verify under the key .*forged/);
    assert.equal(verifyAudit(text, { key, head: { ...parseHead(verifyAudit(text).head), source: 'pinned' } }).ok, true);
  });

  it('parses HASH:LINES and sidecar JSON; rejects anything else without echoing it', () => {
    const h = 'a'.repeat(64);
    assert.deepEqual(parseHead(`${h}:12\n`), { hash: h, lines: 12 });
    assert.deepEqual(parseHead(JSON.stringify({ lines: 3, hash: h })), { lines: 3, hash: h, time: undefined, kid: undefined, mac: undefined });
    for (const bad of [`12:${h}`, `${h}:`, 'x'.repeat(64) + ':1', '{"lines":-1}', `{"lines":1,"hash":"${h}","kid":"k"}`]) {
      assert.throws(
        () => parseHead(bad),
        (e: Error) => !e.message.includes(bad),
        bad,
      );
    }
  });
});

describe('AuditLog.open: continue or refuse', () => {
  const key = new AuditKey(newKey());
  const refuses = (file: string, k: AuditKey | null, pattern: RegExp) => {
    const before = fs.readFileSync(file, 'utf8');
    assert.throws(
      () => AuditLog.open(file, k),
      (e: Error) => {
        assert.ok(e instanceof AuditRefusal, String(e));
        assert.match(e.message, pattern);
        assert.match(e.message, /mv /, 'the refusal names how to start a new log');
        return true;
      },
    );
    assert.equal(fs.readFileSync(file, 'utf8'), before, 'a refused log was modified');
  };

  it('continues its own keyed log, also after a crash between a line and its head', () => {
    const { file, lines } = writeLog(3, key);
    const stale = fs.readFileSync(headPathOf(file), 'utf8');
    const { audit } = AuditLog.open(file, key);
    audit.write({ method: 'session.create' });
    audit.close();
    fs.writeFileSync(headPathOf(file), stale); // the head written before the last line, as a crash leaves it
    const { audit: again, notes } = AuditLog.open(file, key);
    assert.deepEqual(notes, []);
    again.write({ method: 'session.destroy' });
    again.close();
    const text = fs.readFileSync(file, 'utf8');
    assert.ok(text.startsWith(lines.join('\n') + '\n'));
    const r = verifyAudit(text, { key, head: sidecarOf(file) });
    assert.deepEqual([r.ok, r.lines, r.headChecked?.lines], [true, 5, 5], r.reason);
  });

  it('refuses a log under another key, a keyed log without a key, and an unkeyed log with one', () => {
    const keyed = writeLog(2, key);
    refuses(keyed.file, new AuditKey(newKey()), new RegExp(`written under key id ${key.id}.*key the log was written with`));
    refuses(keyed.file, null, new RegExp(`is keyed \\(key id ${key.id}\\) but the daemon has no audit key`));
    const plain = writeLog(2, null);
    refuses(plain.file, key, /carries no MAC.*if you set or changed the key on purpose/);
  });

  it('refuses a cut tail, a missing or damaged head of a keyed log, and a damaged line', () => {
    const a = writeLog(5, key);
    fs.writeFileSync(a.file, a.lines.slice(0, 3).join('\n') + '\n');
    refuses(a.file, key, /broken at line 4: missing.*tail was cut.*keep it as evidence/);
    const b = writeLog(3, key);
    fs.rmSync(headPathOf(b.file));
    refuses(b.file, key, /head .* is missing, so a cut tail cannot be ruled out/);
    const c = writeLog(3, key);
    fs.writeFileSync(headPathOf(c.file), 'garbage');
    refuses(c.file, key, /head .* is damaged/);
    const d = writeLog(3, null);
    fs.writeFileSync(d.file, d.lines[0] + '\n' + d.lines[2] + '\n');
    refuses(d.file, null, /broken at line 2: does not follow/);
    const e = writeLog(0, key);
    fs.writeFileSync(headPathOf(e.file), fs.readFileSync(headPathOf(writeLog(2, key).file)));
    refuses(e.file, key, /broken at line 1: missing/);
  });

  it('continues an unkeyed log an older trl wrote (no head), creating its head', () => {
    const { file } = writeLog(2, null);
    fs.rmSync(headPathOf(file));
    const { audit, notes } = AuditLog.open(file, null);
    audit.close();
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /had no head file/);
    assert.equal(sidecarOf(file).lines, 2);
    assert.equal((fs.statSync(headPathOf(file)).mode & 0o777).toString(8), '600');
  });
});

describe('loadAuditKey', () => {
  it('reads TRL_AUDIT_KEY or a private key file (same key, same id); refuses short keys, open modes and both at once', () => {
    const dir = tempDir();
    const secret = newKey();
    const file = path.join(dir, 'key');
    fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
    assert.equal(loadAuditKey({}, undefined), null);
    assert.equal(loadAuditKey({ TRL_AUDIT_KEY: secret }, undefined)!.id, new AuditKey(secret).id);
    assert.equal(loadAuditKey({}, file)!.id, new AuditKey(secret).id, 'the newline openssl writes is not part of the key');
    const refusal = (f: () => unknown, pattern: RegExp) => assert.throws(f, (e: Error) => e instanceof AuditKeyError && pattern.test(e.message) && !e.message.includes(secret));
    refusal(() => loadAuditKey({ TRL_AUDIT_KEY: secret }, file), /both TRL_AUDIT_KEY and an audit key file/);
    refusal(() => loadAuditKey({ TRL_AUDIT_KEY: 'short' }, undefined), /at least 32/);
    fs.chmodSync(file, 0o640);
    refusal(() => loadAuditKey({}, file), new RegExp(`mode 640.*chmod 600 ${file}`));
    fs.chmodSync(file, 0o600);
    fs.writeFileSync(file, secret.slice(0, 20));
    refusal(() => loadAuditKey({}, file), /20 characters.*at least 32/);
    refusal(() => loadAuditKey({}, path.join(dir, 'none')), /does not exist.*openssl rand/);
    if (process.getuid?.() === 0) {
      // the daemon's key must be its own; an auditor (root) may read the daemon user's private key file
      fs.writeFileSync(file, secret);
      fs.chownSync(file, 65534, 65534);
      refusal(() => loadAuditKey({}, file), new RegExp(`belongs to uid 65534.*chown 0 ${file}`));
      assert.equal(loadAuditKey({}, file, false)!.id, new AuditKey(secret).id);
    }
  });
});
