/**
 * The audit log's anchors, through a real daemon and the real CLI: with an
 * audit key (`TRL_AUDIT_KEY`, or `--audit-key-file` of mode 0600) every line
 * carries an HMAC under it, so a rewrite with recomputed hashes fails `trl
 * audit verify` given the key; the sidecar head FILE.head (and a head pinned
 * with `trl audit head`) makes a cut tail fail; a restarted daemon continues
 * its keyed chain, and refuses a log it cannot vouch for. The key reaches no
 * file, log line, child environment or sandbox.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { filesUnder, mask, modeOf, Recorder, runCli, scanFiles, writeFileMode } from './helpers/secrets.js';
import { type Daemon, exitWithin, makeTempDir, startDaemon, type StartOptions } from './helpers/daemon.js';

type Entry = Record<string, any>;
const GENESIS = '0'.repeat(64);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const newKey = () => `auditkey-${randomBytes(24).toString('hex')}`;

const readLines = (file: string) => fs.readFileSync(file, 'utf8').slice(0, -1).split('\n');
const entries = (file: string) => readLines(file).map((l) => JSON.parse(l) as Entry);

async function verify(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const r = await runCli(['audit', ...args], { env });
  return { code: r.code, out: r.stdout + r.stderr };
}

/** Start a daemon that must refuse to start: its exit code and everything it printed. */
async function refusal(opts: StartOptions): Promise<{ code: number | null; logs: string }> {
  const d = await startDaemon({ ...opts, noWait: true });
  const code = await exitWithin(d);
  await d.dispose();
  if (code === 'timeout') assert.fail(`the daemon did not refuse to start; it said:\n${d.logs().slice(0, 1500)}`);
  return { code, logs: d.logs() };
}

/** The log rewritten by someone without the key: `edit` applied, key fields dropped, sha256 chain recomputed. */
function plainRewrite(lines: string[], edit: (es: Entry[]) => void): string {
  const es = lines.map((l) => JSON.parse(l) as Entry);
  edit(es);
  let prev = GENESIS;
  return (
    es
      .map(({ hash: _h, mac: _m, kid: _k, mac_alg: _a, prev: _p, ...rest }) => {
        const body = JSON.stringify({ ...rest, prev });
        prev = sha256(`${prev}\n${body}`);
        return `${body.slice(0, -1)},"hash":"${prev}"}`;
      })
      .join('\n') + '\n'
  );
}

describe('keyed audit log', () => {
  const KEY = newKey();
  let keyDir: string;
  let keyFile: string;
  let logDir: string;
  let auditFile: string;
  let headFile: string;
  let daemonLog: string;
  let d: Daemon;
  let rec: Recorder;
  let kid = '';
  const flags = () => ['--audit-log', auditFile, '--log-file', daemonLog, '--kill-grace-s', '1'];
  const withKey = { TRL_AUDIT_KEY: KEY };

  before(async () => {
    keyDir = makeTempDir('/tmp/trl-auditkey-');
    keyFile = path.join(keyDir, 'audit.key');
    writeFileMode(keyFile, KEY + '\n', 0o600);
    logDir = makeTempDir('/tmp/trl-auditanchor-');
    auditFile = path.join(logDir, 'audit.jsonl');
    headFile = `${auditFile}.head`;
    daemonLog = path.join(logDir, 'daemon.log');
    d = await startDaemon({ flags: [...flags(), '--audit-key-file', keyFile] });
    rec = await Recorder.open(d);
  });
  after(async () => {
    rec?.close();
    await d?.dispose();
    for (const dir of [keyDir, logDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('MACs every line and its head (mode 0600) under the key id, never the key; children do not get the key', async () => {
    const s = await rec.ok('session.create', {});
    const env = await rec.ok('exec.run', { session_id: s.session_id, command: 'env; echo end-of-env' });
    assert.equal(env.exit_code, 0);
    assert.match(env.stdout, /end-of-env/);
    assert.ok(!env.stdout.includes(KEY), 'a child sees the audit key');
    assert.ok(!/TRL_AUDIT/.test(env.stdout), `a child sees a TRL_AUDIT_* variable: ${mask(env.stdout, [KEY]).slice(0, 500)}`);
    await rec.ok('exec.run', { session_id: s.session_id, command: 'true' });
    await rec.ok('session.destroy', { session_id: s.session_id });

    const es = entries(auditFile);
    assert.ok(es.length >= 5, `${es.length} lines`);
    kid = es[0]!.kid;
    assert.match(kid, /^[0-9a-f]{16}$/);
    for (const [i, e] of es.entries()) {
      assert.deepEqual([e.mac_alg, e.kid], ['hmac-sha256', kid], `line ${i + 1}`);
      assert.match(String(e.mac), /^[0-9a-f]{64}$/, `line ${i + 1}: no MAC`);
    }
    assert.equal(modeOf(headFile), '600');
    const head = JSON.parse(fs.readFileSync(headFile, 'utf8')) as Entry;
    assert.deepEqual([head.lines, head.hash, head.kid], [es.length, es[es.length - 1]!.hash, kid]);
    assert.match(String(head.mac), /^[0-9a-f]{64}$/);
  });

  it('`trl audit verify` with the key: authenticated, head matches; without it: says what it did not check; wrong key: line 1', async () => {
    const n = readLines(auditFile).length;
    for (const [what, args, env] of [
      ['TRL_AUDIT_KEY', [auditFile], withKey],
      ['--key-file', [auditFile, '--key-file', keyFile], {}],
    ] as const) {
      const r = await verify(['verify', ...args], env);
      assert.equal(r.code, 0, `${what}: ${mask(r.out, [KEY])}`);
      assert.match(r.out, new RegExp(`^ok: ${n} lines, chain intact; authenticated with key id ${kid}; head in ${headFile} \\(authenticated\\) matches line ${n}$`, 'm'), what);
      assert.ok(!/^not checked: authenticity/m.test(r.out), r.out);
    }
    const json = await verify(['verify', auditFile, '--json'], withKey);
    const j = JSON.parse(json.out) as Entry;
    assert.deepEqual([j.ok, j.lines, j.authenticatedWith, j.headChecked.lines, j.headChecked.authenticated], [true, n, kid, n, true]);

    const none = await verify(['verify', auditFile]);
    assert.equal(none.code, 0, none.out);
    assert.match(none.out, new RegExp(`^ok: ${n} lines, chain intact; not authenticated;`, 'm'));
    assert.match(none.out, new RegExp(`^not checked: authenticity: no key given \\(the log is keyed, key id ${kid}\\)`, 'm'));

    const wrong = await verify(['verify', auditFile], { TRL_AUDIT_KEY: newKey() });
    assert.equal(wrong.code, 1, wrong.out);
    assert.match(wrong.out, new RegExp(`^broken at line 1: it was written under key id ${kid}, not under the given key`, 'm'));
  });

  it('dropping the last lines fails against the sidecar head, a pinned head and a head file', async () => {
    const lines = readLines(auditFile);
    const pin = await runCli(['audit', 'head', auditFile], { env: withKey });
    assert.equal(pin.code, 0, pin.stderr);
    const last = JSON.parse(lines[lines.length - 1]!) as Entry;
    assert.equal(pin.stdout, `${last.hash}:${lines.length}\n`);

    const cut = path.join(logDir, 'cut.jsonl');
    fs.writeFileSync(cut, lines.slice(0, -2).join('\n') + '\n', { mode: 0o600 });
    const broken = new RegExp(`^broken at line ${lines.length - 1}: missing: the log ends at line ${lines.length - 2} but .* says it has ${lines.length} lines \\(the tail was cut\\)`, 'm');
    const unanchored = await verify(['verify', cut], withKey);
    assert.equal(unanchored.code, 0, 'a cut keyed log without a head still verifies: the head is what tells');
    assert.match(unanchored.out, /^not checked: truncation: no head given/m);

    const pinned = await verify(['verify', cut, '--head', pin.stdout.trim()], withKey);
    assert.equal(pinned.code, 1, pinned.out);
    assert.match(pinned.out, broken);
    const pinFile = path.join(logDir, 'pinned-head');
    fs.writeFileSync(pinFile, pin.stdout);
    const fromFile = await verify(['verify', cut, '--head-file', pinFile]);
    assert.equal(fromFile.code, 1, fromFile.out);
    assert.match(fromFile.out, broken);
    fs.copyFileSync(headFile, `${cut}.head`);
    const sidecar = await verify(['verify', cut], withKey);
    assert.equal(sidecar.code, 1, sidecar.out);
    assert.match(sidecar.out, broken);
    // the head recomputed for the cut log by someone without the key
    const cutLast = JSON.parse(lines[lines.length - 3]!) as Entry;
    fs.writeFileSync(`${cut}.head`, JSON.stringify({ lines: lines.length - 2, hash: cutLast.hash }));
    const forged = await verify(['verify', cut]);
    assert.equal(forged.code, 1, forged.out);
    assert.match(forged.out, /^broken at line \d+: the head in .* carries no MAC although the log is keyed/m);
  });

  it('a rewrite with recomputed sha256 hashes fails under the key', async () => {
    const lines = readLines(auditFile);
    const runIdx = lines.findIndex((l) => JSON.parse(l).method === 'exec.run');
    const forged = path.join(logDir, 'rewritten.jsonl');
    fs.writeFileSync(
      forged,
      plainRewrite(lines, (es) => (es[runIdx]!.command = 'true')),
      { mode: 0o600 },
    );
    const blind = await verify(['verify', forged]);
    assert.equal(blind.code, 0, `the recomputed chain is sound: only the key can tell (${blind.out})`);
    assert.match(blind.out, /^not checked: authenticity: the log has no key/m);
    const r = await verify(['verify', forged], withKey);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`^broken at line 1: it carries no MAC: it was not written by a daemon holding the key \\(id ${kid}\\)`, 'm'));
  });

  it('a restart continues the keyed chain (key file, then TRL_AUDIT_KEY: the same key) and it verifies', async () => {
    rec.close();
    assert.equal(await d.stop(), 0);
    const before = fs.readFileSync(auditFile, 'utf8');
    const n = readLines(auditFile).length;
    await d.dispose();
    d = await startDaemon({ flags: flags(), env: withKey });
    rec = await Recorder.open(d);
    const s = await rec.ok('session.create', {});
    const env = await rec.ok('exec.run', { session_id: s.session_id, command: 'env; cat /proc/self/environ; echo end-of-env' });
    assert.match(env.stdout, /end-of-env/);
    assert.ok(!env.stdout.includes(KEY) && !/TRL_AUDIT/.test(env.stdout), 'a child of a daemon given TRL_AUDIT_KEY sees it');
    rec.close();
    assert.equal(await d.stop(), 0);
    const after = fs.readFileSync(auditFile, 'utf8');
    assert.ok(after.startsWith(before), 'the restarted daemon rewrote earlier lines');
    const es = entries(auditFile);
    assert.ok(es.length > n);
    assert.equal(es[n]!.prev, es[n - 1]!.hash, 'the first line after the restart does not chain to the last one before it');
    assert.ok(
      es.every((e) => e.kid === kid),
      'a line after the restart is not under the same key',
    );
    const r = await verify(['verify', auditFile], withKey);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`^ok: ${es.length} lines, chain intact; authenticated with key id ${kid}; head in \\S+ \\(authenticated\\) matches line ${es.length}$`, 'm'));
  });

  it('refuses to restart on a log it cannot vouch for, leaving it untouched: another key, no key, a cut tail, a rewrite', async () => {
    await d.dispose();
    const original = fs.readFileSync(auditFile, 'utf8');
    const originalHead = fs.readFileSync(headFile, 'utf8');
    const lines = readLines(auditFile);
    const cases: Array<[string, () => void, Record<string, string>, RegExp]> = [
      ['another key', () => undefined, { TRL_AUDIT_KEY: newKey() }, new RegExp(`broken at line 1: it was written under key id ${kid}.*Start the daemon with the key the log was written with`)],
      ['no key', () => undefined, {}, new RegExp(`is keyed \\(key id ${kid}\\) but the daemon has no audit key: set TRL_AUDIT_KEY or --audit-key-file`)],
      ['a cut tail', () => fs.writeFileSync(auditFile, lines.slice(0, -2).join('\n') + '\n'), withKey, /broken at line \d+: missing: .*the tail was cut/],
      ['a removed head', () => fs.rmSync(headFile), withKey, /head .* is missing, so a cut tail cannot be ruled out/],
      [
        'a plain rewrite',
        () =>
          fs.writeFileSync(
            auditFile,
            plainRewrite(lines, () => undefined),
          ),
        withKey,
        /broken at line 1: it carries no MAC/,
      ],
    ];
    for (const [what, damage, env, pattern] of cases) {
      damage();
      const damaged = fs.readFileSync(auditFile, 'utf8');
      const r = await refusal({ flags: flags(), env });
      assert.notEqual(r.code, 0, `${what}: the daemon started`);
      const said = fs.readFileSync(daemonLog, 'utf8') + r.logs;
      assert.match(r.logs, pattern, `${what}: ${mask(r.logs, [KEY]).slice(0, 1200)}`);
      assert.match(r.logs, /mv \S+ \S+\.old/, `${what}: the refusal does not say how to start a new log`);
      assert.ok(!said.includes(KEY), `${what}: the refusal prints the key`);
      assert.equal(fs.readFileSync(auditFile, 'utf8'), damaged, `${what}: the refused log was modified`);
      fs.writeFileSync(auditFile, original);
      fs.writeFileSync(headFile, originalHead);
    }
  });

  it('the key and the key file content appear in no file the daemon wrote, nor in its output', async () => {
    const files = [...filesUnder(logDir), ...filesUnder(d.dir)].filter((f) => f !== keyFile);
    assert.ok(files.includes(auditFile) && files.includes(headFile) && files.includes(daemonLog), `files scanned: ${files.join(', ')}`);
    const { hits, read } = scanFiles(files, [KEY]);
    assert.ok(read >= 3);
    assert.deepEqual(hits, [], 'a file the daemon wrote holds the audit key');
    assert.ok(!d.logs().includes(KEY), 'the daemon printed the audit key');
    const logText = fs.readFileSync(daemonLog, 'utf8');
    assert.match(logText, new RegExp(`"audit_key_id":"${kid}"`), 'the daemon log names the key id');
    assert.match(logText, /"audit_head":"[0-9a-f]{64}:\d+"/, 'the daemon log records the head (one more copy outside the audit file)');
  });
});

describe('audit key settings', () => {
  let dir: string;
  const KEY = newKey();
  before(() => {
    dir = makeTempDir('/tmp/trl-auditkeyset-');
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const expectRefusal = async (what: string, opts: StartOptions, pattern: RegExp, auditFile?: string) => {
    const r = await refusal(opts);
    assert.notEqual(r.code, 0, `${what}: the daemon started`);
    assert.match(r.logs, pattern, `${what}: ${mask(r.logs, [KEY]).slice(0, 1000)}`);
    assert.ok(!r.logs.includes(KEY), `${what}: the refusal prints the key`);
    if (auditFile) assert.ok(!fs.existsSync(auditFile), `${what}: an audit log was created`);
  };

  it('a key file others can read refuses the start naming `chmod 600 FILE`; so do an unowned or short one', async () => {
    const key = path.join(dir, 'open.key');
    writeFileMode(key, KEY + '\n', 0o644);
    const audit = path.join(dir, 'a.jsonl');
    await expectRefusal('mode 0644', { flags: ['--audit-log', audit, '--audit-key-file', key] }, new RegExp(`audit key file ${key} has mode 644.*chmod 600 ${key}`), audit);
    await expectRefusal('TRL_AUDIT_KEY_FILE 0644', { flags: ['--audit-log', audit], env: { TRL_AUDIT_KEY_FILE: key } }, new RegExp(`chmod 600 ${key}`), audit);
    const short = path.join(dir, 'short.key');
    writeFileMode(short, 'too-short\n', 0o600);
    await expectRefusal('short key file', { flags: ['--audit-log', audit, '--audit-key-file', short] }, /9 characters; an audit key needs at least 32/, audit);
    await expectRefusal('short TRL_AUDIT_KEY', { flags: ['--audit-log', audit], env: { TRL_AUDIT_KEY: 'too-short' } }, /TRL_AUDIT_KEY holds a key of 9 characters/, audit);
    if (process.getuid?.() === 0) {
      const foreign = path.join(dir, 'foreign.key');
      writeFileMode(foreign, KEY + '\n', 0o600);
      fs.chownSync(foreign, 65534, 65534);
      await expectRefusal('key file of another user', { flags: ['--audit-log', audit, '--audit-key-file', foreign] }, new RegExp(`belongs to uid 65534.*chown 0 ${foreign}`), audit);
    }
  });

  it('a key from two places, or a key without an audit log, refuses the start', async () => {
    const key = path.join(dir, 'good.key');
    writeFileMode(key, KEY + '\n', 0o600);
    const audit = path.join(dir, 'b.jsonl');
    await expectRefusal('both', { flags: ['--audit-log', audit, '--audit-key-file', key], env: { TRL_AUDIT_KEY: KEY } }, /both TRL_AUDIT_KEY and an audit key file .* keep one/, audit);
    await expectRefusal('no audit log', { env: { TRL_AUDIT_KEY: KEY } }, /an audit key is set \(TRL_AUDIT_KEY\) but there is no audit log.*--audit-log FILE/);
  });
});

describe('audit key in sandboxes', () => {
  it('a workspace that holds the audit key, log or head is refused to a sandbox session, naming the file', async (t) => {
    const ws = makeTempDir('/tmp/trl-auditsb-');
    fs.chmodSync(ws, 0o755);
    const KEY = newKey();
    const keyFile = path.join(ws, 'audit.key');
    writeFileMode(keyFile, KEY + '\n', 0o600);
    const auditFile = path.join(ws, 'audit.jsonl');
    const d = await startDaemon({ flags: ['--tiers', 'host,sandbox', '--audit-log', auditFile, '--audit-key-file', keyFile, '--default-working-dir', ws, '--workspace-roots', '/tmp'] });
    const rec = await Recorder.open(d);
    try {
      const info = await rec.ok('system.info', {});
      if (!info.tiers.sandbox.available) {
        const why = `sandbox tier unavailable: ${info.tiers.sandbox.detail}`;
        if (process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`${why} (TRL_REQUIRE_TIERS=1)`);
        return t.skip(why);
      }
      const r = await rec.call('session.create', { runtime: 'sandbox', working_dir: ws });
      assert.equal(r.ok, false);
      const e = (r as unknown as { error: { code: string; message: string } }).error;
      assert.equal(e.code, 'INVALID_PARAMS');
      assert.match(e.message, /holds the daemon's own/, e.message);
      const host = await rec.ok('exec.run', { session_id: (await rec.ok('session.create', { runtime: 'host' })).session_id, command: `wc -c < ${keyFile}` });
      assert.ok(Number(host.stdout.trim()) > 0, 'the host tier reads the file (the control case)');
    } finally {
      rec.close();
      await d.dispose();
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });
});
