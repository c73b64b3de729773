/**
 * docs/security.md audit log (`trl serve --audit-log FILE`): created 0600; one JSON
 * line per state-changing call (session.create/update/destroy,
 * exec.run/stream/start with redacted command text, exec.end with exit fields,
 * exec.signal, exec.cancel, exec.input), each carrying the previous line's
 * hash and its own; a restarted daemon continues the chain. `trl audit verify
 * FILE` prints `ok: N lines, chain intact; …` (exit 0) with what it could not
 * check, or `broken at line N: …` (exit 1) naming the edited line, or the line
 * right after a deleted one. The keyed chain and heads: audit-anchor.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mask, modeOf, newSecret, Recorder, runCli } from './helpers/secrets.js';
import { type Daemon, makeTempDir, startDaemon } from './helpers/daemon.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

const R = '[REDACTED]';
const HEX64 = /^[0-9a-f]{64}$/;

type Entry = Record<string, any>;

function readLines(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'), 'the audit log does not end with a newline');
  return text.slice(0, -1).split('\n');
}

function entries(file: string): Entry[] {
  return readLines(file).map((l, i) => {
    try {
      return JSON.parse(l) as Entry;
    } catch {
      assert.fail(`audit line ${i + 1} is not JSON: ${l.slice(0, 300)}`);
    }
  });
}

async function verify(file: string): Promise<{ code: number | null; out: string }> {
  const r = await runCli(['audit', 'verify', file]);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** What `trl audit verify` says of an intact unkeyed log with its sidecar head. */
function intact(out: string, lines: number, file: string): void {
  const [first, ...rest] = out.trim().split('\n');
  assert.equal(first, `ok: ${lines} lines, chain intact; not authenticated; head in ${file}.head matches line ${lines}`, out);
  assert.ok(
    rest.some((l) => /^not checked: authenticity: the log has no key/.test(l)),
    `the output does not say the log is not authenticated: ${out}`,
  );
}

async function expectBroken(file: string, line: number, what: string): Promise<void> {
  const r = await verify(file);
  assert.equal(r.code, 1, `${what}: audit verify exited ${String(r.code)}: ${r.out}`);
  assert.match(r.out, new RegExp(`^broken at line ${line}: \\S`, 'm'), `${what}: expected "broken at line ${line}: …", got: ${r.out}`);
}

describe('audit log', () => {
  const S = newSecret('auditS3cr3t-');
  const PLAIN_VALUE = `plain-value-${newSecret('')}`; // a variable that does not look secret
  const MARKED_VALUE = `marked-value-${newSecret('')}`; // marked secret by session.update secret_keys
  let logDir: string;
  let auditFile: string;
  let d: Daemon;
  let rec: Recorder;
  const ids: Record<string, string> = {};
  let linesAfterFirstRun = 0;
  let lastHashFirstRun = '';
  let firstRunText = '';

  const countLines = () => (fs.existsSync(auditFile) ? readLines(auditFile).length : 0);

  before(async () => {
    logDir = makeTempDir('/tmp/trl-audit-');
    auditFile = path.join(logDir, 'audit.jsonl');
    d = await startDaemon({ flags: ['--audit-log', auditFile, '--kill-grace-s', '1'] });
    rec = await Recorder.open(d);
  });
  after(async () => {
    rec?.close();
    await d?.dispose();
    if (logDir) fs.rmSync(logDir, { recursive: true, force: true });
  });

  it('is created with mode 0600 by the daemon', () => {
    assert.ok(fs.existsSync(auditFile), 'no audit log after start');
    assert.equal(modeOf(auditFile), '600');
    assert.equal(fs.statSync(auditFile).uid, process.getuid!());
  });

  it('writes one hash-chained line per state-changing call, none for reads; command text redacted; no env value', async () => {
    const s = await rec.ok('session.create', { env: { API_TOKEN: S, PLAIN_VAR: PLAIN_VALUE } }, [S]);
    ids.session = s.session_id;
    await rec.ok('session.update', { session_id: s.session_id, env: { MORE_VAR: MARKED_VALUE }, secret_keys: ['MORE_VAR'] }, [S]);
    const run = await rec.ok('exec.run', { session_id: s.session_id, command: `echo '${S}' >/dev/null; echo '${MARKED_VALUE}' >/dev/null; exit 3` }, [S]);
    assert.equal(run.exit_code, 3);
    ids.run = run.command_id;
    const { response, collected } = await rec.stream('exec.stream', { session_id: s.session_id, command: 'echo streamed' });
    assert.equal(collected.exit?.['exit_code'], 0);
    ids.stream = response.data.command_id;
    const cat = await rec.ok('exec.start', { session_id: s.session_id, command: 'cat', stdin_open: true });
    ids.cat = cat.command_id;
    await rec.ok('exec.input', { command_id: cat.command_id, data: 'hello\n' });
    await rec.ok('exec.input', { command_id: cat.command_id, eof: true });
    await rec.ok('exec.wait', { command_id: cat.command_id, timeout_s: 10 });
    const sig = await rec.ok('exec.start', { session_id: s.session_id, command: 'sleep 30' });
    ids.signalled = sig.command_id;
    await rec.ok('exec.signal', { command_id: sig.command_id, signal: 'SIGTERM' });
    await rec.ok('exec.wait', { command_id: sig.command_id, timeout_s: 10 });
    const can = await rec.ok('exec.start', { session_id: s.session_id, command: 'sleep 30' });
    ids.cancelled = can.command_id;
    await rec.ok('exec.cancel', { command_id: can.command_id });
    await rec.ok('exec.wait', { command_id: can.command_id, timeout_s: 10 });

    // reads change nothing: no line
    await waitFor(() => entries(auditFile).filter((e) => e.method === 'exec.end').length >= 5);
    const before = countLines();
    await rec.ok('session.info', { session_id: s.session_id });
    await rec.ok('session.list', {});
    await rec.ok('exec.list', { session_id: s.session_id });
    await rec.ok('exec.info', { command_id: run.command_id });
    await rec.ok('exec.output', { command_id: run.command_id });
    await rec.ok('system.ping', {});
    await rec.ok('system.info', {});
    assert.equal(countLines(), before, 'read-only calls wrote audit lines');

    await rec.ok('session.destroy', { session_id: s.session_id });
    await waitFor(() => entries(auditFile).some((e) => e.method === 'session.destroy'));

    const text = fs.readFileSync(auditFile, 'utf8');
    assert.ok(!text.includes(S), `the audit log holds a secret value: ${mask(text, [S]).slice(0, 500)}`);
    assert.ok(!text.includes(PLAIN_VALUE), 'the audit log holds an env value (plain variable)');
    assert.ok(!text.includes(MARKED_VALUE), 'the audit log holds the value of a variable marked secret (secret_keys)');

    const es = entries(auditFile);
    // the chain
    for (const [i, e] of es.entries()) {
      assert.match(String(e.hash), HEX64, `line ${i + 1}: no hash`);
      assert.match(String(e.prev), HEX64, `line ${i + 1}: no prev`);
      if (i > 0) assert.equal(e.prev, es[i - 1]!.hash, `line ${i + 1}: prev is not the hash of line ${i}`);
      assert.equal(typeof e.method, 'string', `line ${i + 1}: no method`);
      assert.ok(typeof e.time === 'string' && !Number.isNaN(Date.parse(e.time)), `line ${i + 1}: no time`);
    }
    const byMethod = (m: string) => es.filter((e) => e.method === m);
    const one = (m: string, pred: (e: Entry) => boolean = () => true) => {
      const found = byMethod(m).filter(pred);
      assert.equal(found.length, 1, `expected exactly one ${m} line${pred.toString().length > 12 ? ' matching ' + pred.toString() : ''}, got ${found.length}: ${JSON.stringify(byMethod(m))}`);
      return found[0]!;
    };
    const create = one('session.create');
    assert.equal(create.session_id, ids.session);
    assert.deepEqual([...(create.env_keys ?? [])].sort(), ['API_TOKEN', 'PLAIN_VAR'], 'session.create should name the env keys');
    one('session.update');
    one('session.destroy');
    const runLine = one('exec.run');
    assert.equal(runLine.command_id, ids.run);
    assert.equal(runLine.session_id, ids.session);
    assert.equal(runLine.command, `echo '${R}' >/dev/null; echo '${R}' >/dev/null; exit 3`, 'command text not redacted as expected');
    assert.equal(one('exec.stream').command_id, ids.stream);
    assert.equal(byMethod('exec.start').length, 3, 'expected three exec.start lines');
    assert.equal(byMethod('exec.input').length, 2, 'expected one exec.input line per call');
    const sigLine = one('exec.signal');
    assert.equal(sigLine.command_id, ids.signalled);
    assert.match(String(sigLine.signal), /^(SIG)?TERM$/);
    assert.equal(one('exec.cancel').command_id, ids.cancelled);
    // exec.end: one per command, with exit fields
    const ends = byMethod('exec.end');
    for (const id of [ids.run, ids.stream, ids.cat, ids.signalled, ids.cancelled]) {
      const e = ends.filter((x) => x.command_id === id);
      assert.equal(e.length, 1, `expected one exec.end for ${id}, got ${e.length}`);
      assert.equal(typeof e[0]!.duration_ms, 'number', `exec.end without duration_ms: ${JSON.stringify(e[0])}`);
      assert.ok('exit_code' in e[0]!, `exec.end without exit_code: ${JSON.stringify(e[0])}`);
    }
    assert.equal(ends.find((x) => x.command_id === ids.run)!.exit_code, 3);
    assert.equal(ends.find((x) => x.command_id === ids.stream)!.exit_code, 0);
    const sigEnd = ends.find((x) => x.command_id === ids.signalled)!;
    assert.ok(sigEnd.signal === 'SIGTERM' || sigEnd.exit_code === 143, `the signalled command's exec.end: ${JSON.stringify(sigEnd)}`);
  });

  it('`trl audit verify` passes on the untouched log', async () => {
    const n = countLines();
    const r = await verify(auditFile);
    assert.equal(r.code, 0, r.out);
    intact(r.out, n, auditFile);
  });

  it('keeps a head sidecar (mode 0600) that names a cut tail, which the chain alone cannot', async () => {
    const head = `${auditFile}.head`;
    assert.equal(modeOf(head), '600');
    const lines = readLines(auditFile);
    const sidecar = JSON.parse(fs.readFileSync(head, 'utf8')) as Entry;
    assert.deepEqual([sidecar.lines, sidecar.hash], [lines.length, JSON.parse(lines[lines.length - 1]!).hash]);
    const cut = path.join(logDir, 'cut.jsonl');
    fs.writeFileSync(cut, lines.slice(0, -3).join('\n') + '\n', { mode: 0o600 });
    const unanchored = await verify(cut);
    assert.equal(unanchored.code, 0, `without a head the cut log still verifies: ${unanchored.out}`);
    assert.match(unanchored.out, /^not checked: truncation: no head given/m);
    fs.copyFileSync(head, `${cut}.head`);
    await expectBroken(cut, lines.length - 2, 'the last 3 lines dropped, sidecar head kept');
  });

  it('names the edited line (first, middle, last), the line after a deleted one, and the line after an inserted one', async () => {
    const lines = readLines(auditFile);
    const n = lines.length;
    assert.ok(n >= 8, `only ${n} lines`);
    const write = (name: string, ls: string[]) => {
      const f = path.join(logDir, name);
      fs.writeFileSync(f, ls.join('\n') + '\n', { mode: 0o600 });
      return f;
    };
    const edit = (i: number, fn: (e: Entry) => void) => {
      const ls = [...lines];
      const e = JSON.parse(ls[i]!) as Entry;
      fn(e);
      ls[i] = JSON.stringify(e);
      return ls;
    };
    const cases: Array<[string, string[], number, string]> = [];
    // an edited field (JSON re-serialised with the same key order)
    const runIdx = lines.findIndex((l) => JSON.parse(l).method === 'exec.run');
    cases.push(['edit-run.jsonl', edit(runIdx, (e) => (e.command = 'true')), runIdx + 1, 'edited exec.run command']);
    const endIdx = lines.findIndex((l) => JSON.parse(l).method === 'exec.end');
    cases.push(['edit-exit.jsonl', edit(endIdx, (e) => (e.exit_code = e.exit_code === 0 ? 1 : 0)), endIdx + 1, 'edited exec.end exit_code']);
    cases.push(['edit-first.jsonl', edit(0, (e) => (e.session_id = 'someone-else')), 1, 'edited first line']);
    cases.push(['edit-last.jsonl', edit(n - 1, (e) => (e.time = new Date(0).toISOString())), n, 'edited last line']);
    // a textual edit of the raw line, same length
    const raw = [...lines];
    raw[2] = raw[2]!.replace(/"time":"(\d)/, (_m, d: string) => `"time":"${d === '1' ? '2' : '1'}`);
    assert.notEqual(raw[2], lines[2]);
    cases.push(['edit-raw.jsonl', raw, 3, 'raw edit of line 3']);
    // deleted lines: the following line is named (1-based, in the file as it now is)
    cases.push(['del-1.jsonl', lines.slice(1), 1, 'deleted line 1']);
    cases.push(['del-3.jsonl', [...lines.slice(0, 2), ...lines.slice(3)], 3, 'deleted line 3']);
    cases.push(['del-mid.jsonl', [...lines.slice(0, n - 2), lines[n - 1]!], n - 1, `deleted line ${n - 1}`]);
    // an inserted copy of line 2 after line 2 → line 3 is named
    cases.push(['ins.jsonl', [...lines.slice(0, 2), lines[1]!, ...lines.slice(2)], 3, 'duplicated line 2']);
    // swapped lines 3 and 4 → line 3 is named
    cases.push(['swap.jsonl', [...lines.slice(0, 2), lines[3]!, lines[2]!, ...lines.slice(4)], 3, 'swapped lines 3 and 4']);
    // garbage appended
    cases.push(['garbage.jsonl', [...lines, 'not json'], n + 1, 'garbage line']);
    // two CLI processes at a time: the machine running the tests has two cores
    for (let i = 0; i < cases.length; i += 2) {
      await Promise.all(cases.slice(i, i + 2).map(([name, ls, line, what]) => expectBroken(write(name, ls), line, what)));
    }
    // the untouched original still verifies
    assert.equal((await verify(auditFile)).code, 0);
  });

  it('`trl audit verify` on a missing file fails', async () => {
    const r = await verify(path.join(logDir, 'nope.jsonl'));
    assert.notEqual(r.code, 0, r.out);
  });

  it('a restarted daemon continues the chain (after SIGTERM and after SIGKILL)', async () => {
    rec.close();
    assert.equal(await d.stop(), 0);
    firstRunText = fs.readFileSync(auditFile, 'utf8');
    const first = entries(auditFile);
    linesAfterFirstRun = first.length;
    lastHashFirstRun = first[first.length - 1]!.hash;

    // second daemon, same audit log
    await d.dispose();
    d = await startDaemon({ flags: ['--audit-log', auditFile, '--kill-grace-s', '1'] });
    rec = await Recorder.open(d);
    const s = await rec.ok('session.create', {});
    await rec.ok('exec.run', { session_id: s.session_id, command: 'echo again' });
    rec.close();
    assert.equal(await d.stop(), 0);
    const text2 = fs.readFileSync(auditFile, 'utf8');
    assert.ok(text2.startsWith(firstRunText), 'the restarted daemon rewrote earlier lines');
    const second = entries(auditFile);
    assert.ok(second.length >= linesAfterFirstRun + 3, `expected at least 3 new lines, got ${second.length - linesAfterFirstRun}`);
    assert.equal(second[linesAfterFirstRun]!.prev, lastHashFirstRun, 'the first line after the restart does not chain to the last line before it');
    assert.equal(modeOf(auditFile), '600');
    let r = await verify(auditFile);
    assert.equal(r.code, 0, r.out);
    intact(r.out, second.length, auditFile);

    // third daemon killed with SIGKILL mid-work, fourth continues
    await d.dispose();
    d = await startDaemon({ flags: ['--audit-log', auditFile, '--kill-grace-s', '1'] });
    rec = await Recorder.open(d);
    const s3 = await rec.ok('session.create', {});
    await rec.ok('exec.run', { session_id: s3.session_id, command: 'true' });
    rec.close();
    await d.stop('SIGKILL');
    await d.dispose();
    d = await startDaemon({ flags: ['--audit-log', auditFile, '--kill-grace-s', '1'] });
    rec = await Recorder.open(d);
    await rec.ok('session.create', {});
    const before = countLines();
    r = await verify(auditFile);
    assert.equal(r.code, 0, `after a SIGKILL and a restart: ${r.out}`);
    intact(r.out, before, auditFile);
  });
});

describe('audit log file mode', () => {
  it('an existing audit log that group/others can read is made 0600 (or the daemon refuses it)', async () => {
    const dir = makeTempDir('/tmp/trl-audit-');
    const file = path.join(dir, 'loose.jsonl');
    fs.writeFileSync(file, '');
    fs.chmodSync(file, 0o644);
    const d = await startDaemon({ flags: ['--audit-log', file], noWait: true });
    try {
      const started = await waitFor(() => d.hasExited() || fs.existsSync(d.socketPath), DEADLINE_MS, 25);
      assert.ok(started, 'the daemon neither started nor refused within 10 s');
      if (!d.hasExited()) {
        assert.equal(modeOf(file), '600', 'the daemon writes its audit log into a file others can read');
      } else {
        assert.notEqual(await d.exited, 0);
      }
    } finally {
      await d.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
