/**
 * Acceptance: a planted secret never persists and never leaves through the API.
 *
 * One unique value is planted at every injection point — runtime level (the
 * .env file AND the daemon's environment, under two names), session level
 * (session.create and session.update) and command level (env, stdin,
 * exec.input) — and a workload runs with --log-level debug, --audit-log and
 * --log-file: successes, failures (exit 3, check: true), a timeout, a cancel,
 * invalid requests carrying the value, a stream, exec.output, exec.attach, a
 * pty command, reads. Afterwards the value is in no file of the runtime
 * directory, not in the log file, not in the audit log, not in the daemon's
 * stdout/stderr, in no file written under /tmp during the run, and in no
 * response or event — except a command's own output in a session with
 * redact_output: false, where it must appear (so this test can fail).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { around, filesUnder, mask, modeOf, Recorder, runCli, scanFiles, sha256, tmpFilesNewerThan, writeFileMode } from './helpers/secrets.js';
import { type Daemon, makeTempDir, startDaemon } from './helpers/daemon.js';

const R = '[REDACTED]';

describe('planted secret', () => {
  const S = `S3cr3t-${randomBytes(16).toString('hex')}`;
  const m = (t: string) => mask(t, [S]);
  let marker: string;
  let base: string;
  let runtimeDir: string;
  let envFile: string;
  let logFile: string;
  let auditFile: string;
  let d: Daemon;
  /** Everything on this connection must be free of S. */
  let rec: Recorder;
  /** The redact_output: false session: only command output may carry S. */
  let leaky: Recorder;
  let runtimeFilesWhileRunning: string[] = [];
  let stopCode: number | null = null;
  let spawnLines: string[] = [];

  before(async () => {
    marker = path.join('/tmp', `trl-planted-marker-${randomBytes(6).toString('hex')}`);
    fs.writeFileSync(marker, '');
    // dated a minute back: everything written from now on is -newer than the marker
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(marker, past, past);
    base = makeTempDir('/tmp/trl-planted-');
    runtimeDir = path.join(base, 'run');
    envFile = path.join(base, '.env'); // the daemon's cwd: the default .env
    logFile = path.join(base, 'logs', 'trl.log');
    auditFile = path.join(base, 'audit', 'audit.jsonl');
    fs.mkdirSync(path.dirname(auditFile), { mode: 0o700 });
    writeFileMode(envFile, `# planted\nENVFILE_API_TOKEN=${S}\nENVFILE_PLAIN=harmless\n`, 0o600);
    d = await startDaemon({
      dir: base,
      socketPath: path.join(runtimeDir, 'trl.sock'),
      env: { DAEMON_SECRET_TOKEN: S },
      flags: ['--audit-log', auditFile, '--log-file', logFile, '--kill-grace-s', '1'],
    });
    rec = await Recorder.open(d);
    leaky = await Recorder.open(d);
  });
  after(async () => {
    rec?.close();
    leaky?.close();
    await d?.stop('SIGKILL');
    if (base) fs.rmSync(base, { recursive: true, force: true });
    if (marker) fs.rmSync(marker, { force: true });
  });

  const ok = (method: string, params: Record<string, unknown>) => rec.ok(method, params, [S]);
  const err = async (method: string, params: unknown, code = 'INVALID_PARAMS') => {
    const r = await rec.call(method, params as Record<string, unknown>);
    assert.equal(r.ok, false, `${method} should fail: ${m(JSON.stringify(r)).slice(0, 400)}`);
    assert.equal(r.error?.code, code, m(JSON.stringify(r)).slice(0, 400));
    return r;
  };

  it('runs the workload; the value reaches every command from every level', async () => {
    const s = await ok('session.create', { env: { SESSION_PASSWORD: S, PLAIN_SESSION: 'ok' } });
    const sid = s.session_id as string;

    // every injection point reaches the child (proved by hash, the value itself is redacted)
    const levels = await ok('exec.run', {
      session_id: sid,
      command: 'for v in "$ENVFILE_API_TOKEN" "$DAEMON_SECRET_TOKEN" "$SESSION_PASSWORD" "$CMD_TOKEN"; do printf %s "$v" | sha256sum | cut -c1-64; done',
      env: { CMD_TOKEN: S },
    });
    assert.equal(levels.stdout, `${sha256(S)}\n`.repeat(4), 'a planted level did not reach the command');

    // successes
    const okRun = await ok('exec.run', { session_id: sid, command: 'printf "out:%s\\n" "$ENVFILE_API_TOKEN"; printf "err:%s\\n" "$SESSION_PASSWORD" >&2' });
    assert.equal(okRun.stdout, `out:${R}\n`, m(okRun.stdout));
    assert.equal(okRun.stderr, `err:${R}\n`, m(okRun.stderr));
    const literal = await ok('exec.run', { session_id: sid, command: `echo '${S}'; echo done` });
    assert.equal(literal.stdout, `${R}\ndone\n`, m(literal.stdout));
    const stdinRun = await ok('exec.run', { session_id: sid, command: 'cat', stdin: `in:${S}\n` });
    assert.equal(stdinRun.stdout, `in:${R}\n`, m(stdinRun.stdout));
    // the value copied into session state (lives in memory only)
    await ok('exec.run', { session_id: sid, command: 'export COPIED_VALUE="$SESSION_PASSWORD"; cd /tmp' });
    const copied = await ok('exec.run', { session_id: sid, command: 'printf "%s\\n" "$COPIED_VALUE"' });
    assert.equal(copied.stdout, `${R}\n`, m(copied.stdout));
    await ok('session.update', { session_id: sid, env: { UPDATED_VALUE: S }, secret_keys: ['UPDATED_VALUE'] });
    const updated = await ok('exec.run', { session_id: sid, command: 'printf "%s\\n" "$UPDATED_VALUE"' });
    assert.equal(updated.stdout, `${R}\n`, m(updated.stdout));

    // failures
    const fail3 = await ok('exec.run', { session_id: sid, command: 'printf "%s\\n" "$CMD_TOKEN"; printf "%s\\n" "$CMD_TOKEN" >&2; exit 3', env: { CMD_TOKEN: S } });
    assert.equal(fail3.exit_code, 3);
    const checked = await rec.call('exec.run', { session_id: sid, command: `printf "%s\\n" "$CMD_TOKEN"; exit 3`, env: { CMD_TOKEN: S }, check: true });
    assert.equal(checked.error?.code, 'COMMAND_FAILED', m(JSON.stringify(checked)));
    // command text carrying the value in failed spawns (kept on their own connection: see the last test)
    const spawnRec = await Recorder.open(d);
    const spawnFail = await spawnRec.call('exec.run', { session_id: sid, argv: [`/nonexistent/${S}`, S], env: { CMD_TOKEN: S } });
    assert.equal(spawnFail.ok, false);
    const badDir = await spawnRec.call('exec.run', { session_id: sid, command: 'true', working_dir: `/nonexistent/${S}`, env: { CMD_TOKEN: S } });
    assert.equal(badDir.ok, false);
    spawnLines = [...spawnRec.received];
    spawnRec.close();

    // a timeout
    const timedOut = await ok('exec.run', { session_id: sid, command: 'printf "%s\\n" "$SESSION_PASSWORD"; sleep 5', env: { CMD_TOKEN: S }, timeout_s: 1 });
    assert.equal(timedOut.timed_out, true);
    assert.equal(timedOut.stdout, `${R}\n`, m(timedOut.stdout));

    // a cancel
    const bg = await ok('exec.start', { session_id: sid, command: 'printf "%s\\n" "$DAEMON_SECRET_TOKEN"; sleep 30', env: { CMD_TOKEN: S } });
    const early = await ok('exec.output', { command_id: bg.command_id, wait_ms: 5000 }); // long-poll: the printf ran
    assert.equal(early.data, `${R}\n`, m(JSON.stringify(early)));
    const cancelled = await ok('exec.cancel', { command_id: bg.command_id });
    assert.deepEqual(cancelled.cancelled, [bg.command_id]);
    const bgDone = await ok('exec.wait', { command_id: bg.command_id, timeout_s: 10 });
    assert.equal(bgDone.stdout, `${R}\n`, m(bgDone.stdout));

    // exec.input carrying the value
    const cat = await ok('exec.start', { session_id: sid, command: 'cat', stdin_open: true, env: { CMD_TOKEN: S } });
    await ok('exec.input', { command_id: cat.command_id, data: `typed:${S}\n`, eof: true });
    const catDone = await ok('exec.wait', { command_id: cat.command_id, timeout_s: 10 });
    assert.equal(catDone.stdout, `typed:${R}\n`, m(catDone.stdout));

    // a stream (value split across writes), then exec.output and an exec.attach replay of it
    const { response, collected } = await rec.stream(
      'exec.stream',
      {
        session_id: sid,
        command: 'printf %s "$CMD_TOKEN" | head -c 9; sleep 0.3; printf "%s\\n" "$(printf %s "$CMD_TOKEN" | tail -c +10)"; printf "%s\\n" "$SESSION_PASSWORD" >&2',
        env: { CMD_TOKEN: S },
      },
      [S],
    );
    assert.equal(collected.stdout.text, `${R}\n`, m(collected.stdout.text));
    assert.equal(collected.stderr.text, `${R}\n`, m(collected.stderr.text));
    const streamId = response.data.command_id as string;
    const out = await ok('exec.output', { command_id: streamId });
    assert.equal(out.data, `${R}\n`, m(out.data));
    await ok('exec.output', { command_id: streamId, stream: 'stderr', encoding: 'base64' });
    await rec.stream('exec.attach', { command_id: streamId }, [S]);

    // a terminal command
    const pty = await ok('exec.run', { session_id: sid, command: 'printf "%s\\n" "$ENVFILE_API_TOKEN"', pty: { cols: 120, rows: 30 } });
    assert.ok(pty.stdout.includes(R), m(JSON.stringify(pty.stdout)));

    // invalid requests carrying the value
    await err('session.create', { env: { 'BAD-NAME': S, GOOD_NAME: S } });
    await err('session.update', { session_id: sid, env: { '1BAD': S } });
    await err('exec.run', { session_id: sid, command: 'true', env: { CMD_TOKEN: S }, bogus_param: true });
    await err('exec.run', { session_id: sid, command: 'true', env: { CMD_TOKEN: S }, unknown_secret: S });
    await err('exec.run', { session_id: sid, command: 'true', env: { WITH_NUL: `${S}\u0000x` } });
    await err('exec.run', { session_id: sid, command: 'true', env: { CMD_TOKEN: S }, timeout_s: 'soon' });
    await err('exec.start', { session_id: sid, command: 'true', env: { CMD_TOKEN: 42, OTHER_TOKEN: S } });
    await err('exec.run', { session_id: sid, env: { CMD_TOKEN: S } });
    const notObject = await rec.call('session.create', S as unknown as Record<string, unknown>);
    assert.equal(notObject.ok, false);
    const unknownMethod = await rec.call('exec.nope', { env: { CMD_TOKEN: S } });
    assert.equal(unknownMethod.error?.code, 'METHOD_NOT_FOUND');
    const badJson = await rec.sendRaw(`{"id":"broken","method":"session.create","params":{"env":{"API_TOKEN":"${S}"}}`);
    assert.equal(badJson.ok, false, 'a truncated JSON line was accepted');

    // reads
    await ok('session.info', { session_id: sid });
    await ok('session.list', {});
    const list = await ok('exec.list', { session_id: sid });
    assert.ok(list.commands.length >= 10);
    const info = await ok('exec.info', { command_id: literal.command_id });
    assert.equal(info.command, `echo '${R}'; echo done`, m(JSON.stringify(info)));
    await ok('system.info', {});
    await ok('system.stats', {});

    // the redact_output: false session: the value comes through in the command's own output only
    const ls = await leaky.ok('session.create', { env: { SESSION_PASSWORD: S }, redact_output: false });
    const shown = await leaky.ok('exec.run', { session_id: ls.session_id, command: 'printf "shown:%s\\n" "$SESSION_PASSWORD"' });
    assert.equal(shown.stdout, `shown:${S}\n`, 'with redact_output: false the value must come through');
    const shownLiteral = await leaky.ok('exec.run', { session_id: ls.session_id, command: `echo '${S}' >&2` });
    assert.equal(shownLiteral.stderr, `${S}\n`);
    const leakyStream = await leaky.stream('exec.stream', { session_id: ls.session_id, command: 'printf "%s\\n" "$DAEMON_SECRET_TOKEN"' });
    assert.equal(leakyStream.collected.stdout.text, `${S}\n`);
    const leakyInfo = await leaky.ok('exec.info', { command_id: shownLiteral.command_id });
    assert.equal(leakyInfo.command, `echo '${R}' >&2`, `exec.info shows the command text unredacted in a redact_output:false session: ${m(leakyInfo.command)}`);
    await leaky.ok('exec.list', { session_id: ls.session_id });
    await leaky.ok('session.info', { session_id: ls.session_id });

    // the runtime directory while the daemon runs (socket record etc.)
    runtimeFilesWhileRunning = filesUnder(runtimeDir);
    const live = scanFiles(runtimeFilesWhileRunning, [S]);
    assert.deepEqual(live.hits, [], `files in the runtime directory hold the value while the daemon runs: ${JSON.stringify(live.hits)}`);

    await ok('session.destroy', { session_id: sid });
    await leaky.ok('session.destroy', { session_id: ls.session_id });
    rec.close();
    leaky.close();
    stopCode = await d.stop();
  });

  it('the daemon stopped cleanly on SIGTERM', () => {
    assert.equal(stopCode, 0, `exit code ${String(stopCode)}; ${m(d.logs()).slice(-800)}`);
  });

  it('no response or event carries the value', () => {
    assert.ok(rec.received.length >= 40, `only ${rec.received.length} lines recorded`);
    for (const [i, line] of rec.received.entries()) {
      assert.ok(!line.includes(S), `line #${i + 1} carries the value: ${around(line, S, 300)}`);
    }
  });

  it('with redact_output: false the value is in the command output only (and is there)', () => {
    let seen = 0;
    for (const [i, line] of leaky.received.entries()) {
      const msg = JSON.parse(line) as Record<string, any>;
      // a command's own output: exec.run results, stream data events, exec.output data
      if ((msg['event'] === 'stdout' || msg['event'] === 'stderr') && typeof msg['data'] === 'string') {
        if (msg['data'].includes(S)) seen++;
        msg['data'] = '';
      }
      const data = msg['data'];
      if (msg['ok'] === true && data && typeof data === 'object') {
        for (const k of ['stdout', 'stderr']) {
          if (typeof data[k] === 'string') {
            if (data[k].includes(S)) seen++;
            data[k] = '';
          }
        }
      }
      const rest = JSON.stringify(msg);
      assert.ok(!rest.includes(S), `line #${i + 1} carries the value outside command output: ${around(rest, S, 300)}`);
    }
    assert.ok(seen >= 3, `the value came through only ${seen} time(s) in the redact_output:false session`);
  });

  it('errors about a command whose text carries the value (program not found, bad working_dir) do not echo it', () => {
    assert.equal(spawnLines.length, 2);
    const leaks = spawnLines.filter((l) => l.includes(S)).map((l) => m(l).slice(0, 400));
    assert.deepEqual(leaks, [], `error responses echo the value:\n${leaks.join('\n')}`);
  });

  it("the daemon's stdout/stderr do not carry the value", () => {
    const logs = d.logs();
    assert.ok(!logs.includes(S), `the daemon printed the value: ${around(logs, S)}`);
  });

  it('the log file (debug level, mode 0600) does not carry the value', () => {
    assert.ok(fs.existsSync(logFile), 'no log file');
    assert.equal(modeOf(logFile), '600');
    const text = fs.readFileSync(logFile, 'utf8');
    assert.ok(text.includes('"level":20'), 'no debug lines in the log file: is --log-level debug honoured?');
    assert.ok(text.includes('ENVFILE_API_TOKEN') || text.includes('CMD_TOKEN') || text.includes('SESSION_PASSWORD'), 'the log names no env key at all');
    assert.ok(!text.includes(S), `the log file carries the value: ${around(text, S)}`);
  });

  it('the audit log (mode 0600, chain intact) does not carry the value', async () => {
    assert.ok(fs.existsSync(auditFile), 'no audit log');
    assert.equal(modeOf(auditFile), '600');
    const text = fs.readFileSync(auditFile, 'utf8');
    assert.ok(text.split('\n').length > 20, 'the audit log is nearly empty');
    assert.ok(text.includes(R), 'the audit log never shows [REDACTED]: are command texts recorded?');
    assert.ok(!text.includes(S), `the audit log carries the value: ${around(text, S)}`);
    const v = await runCli(['audit', 'verify', auditFile]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^ok: \d+ lines, chain intact;/m);
  });

  it('no file in the runtime directory carries the value', () => {
    const files = filesUnder(runtimeDir);
    const r = scanFiles(files, [S]);
    assert.deepEqual(r.hits, [], `runtime directory files carrying the value: ${JSON.stringify(r.hits)}`);
    assert.ok(runtimeFilesWhileRunning.length > 0, 'the runtime directory held no file at all while the daemon ran (expected at least the daemon record)');
  });

  it('no file written under /tmp during the run carries the value (except the planted .env itself)', () => {
    const files = tmpFilesNewerThan(marker).filter((f) => f !== envFile);
    assert.ok(files.includes(logFile) && files.includes(auditFile), 'the /tmp scan missed the log files: is find working?');
    const r = scanFiles(files, [S]);
    console.log(`# /tmp scan: ${files.length} files newer than the marker, ${r.read} read`);
    assert.deepEqual(r.hits, [], `files under /tmp carrying the value: ${JSON.stringify(r.hits, null, 1)}`);
  });
});
