/**
 * docs/security.md output redaction: values of variables marked secret (secret_keys)
 * and, by default, of variables whose names look secret (TOKEN, SECRET, KEY,
 * PASSWORD, PASSWD, CREDENTIAL, PRIVATE; ≥ 8 characters; marked ones have no
 * length floor) are replaced by [REDACTED] in exec.run results, stream events, exec.output, exec.wait and
 * exec.attach replays — also when a value is split across two writes — unless
 * the session turned redact_output off. Command text in exec.info/exec.list is
 * redacted too; session.info names secret keys, never values. A 125 KB secret
 * and output of near misses do not stall the daemon.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mask, newSecret, Recorder, sha256 } from './helpers/secrets.js';
import { collectRaw } from './helpers/streams.js';
import { type Daemon, makeTempDir, startDaemon } from './helpers/daemon.js';
import { type RawLine } from './helpers/raw-connection.js';

const R = '[REDACTED]';

/** Print $name in two writes (two processes, a pause between): the first `cut` bytes, then the rest. */
const splitPrint = (name: string, cut = 10, pause = 0.3) => `{ printf %s "$${name}" | head -c ${cut}; sleep ${pause}; printf %s "$${name}" | tail -c +${cut + 1}; }`;

describe('output redaction', () => {
  let d: Daemon;
  /** Every line on this connection must be free of every tracked secret. */
  let rec: Recorder;
  /** Connection for the cases where a value is expected to come through (not redacted). */
  let open: Recorder;

  const S_RT = newSecret('rtS3cr3t-'); // daemon env, secret-looking name
  const S_SESSION = newSecret('sessS3cr3t-'); // session env API_TOKEN
  const S_EXPLICIT = newSecret('explS3cr3t-'); // session env PLAIN_NAME + secret_keys
  const S_CMD = newSecret('cmdS3cr3t-'); // command env OTHER_NAME + secret_keys
  const S_LATER = newSecret('laterS3cr3t-'); // session.update secret_keys
  const S_EXPL_SESS_VIA_CMD = newSecret('viacmdS3cr3t-'); // session var marked secret by exec secret_keys
  const S_8 = 'Ab3$dE6!'; // exactly 8 characters, secret-looking name
  const S_7 = 'Zy9#xW7'; // 7 characters, secret-looking name: not redacted by default
  const DEFAULT_NAMES = ['GITHUB_TOKEN', 'client_secret', 'Api_Key', 'DB_PASSWORD', 'LDAP_PASSWD', 'AWS_CREDENTIALS', 'ssh_private_pem'];
  const S_DEFAULT = DEFAULT_NAMES.map((n) => newSecret(`${n.toLowerCase().replace(/_/g, '')}-`));
  const S_UNICODE = `pässwörd-${newSecret('ü-')}`;
  // 125 KB (an env string may hold 128 KiB), mostly one repeated letter: near misses share long prefixes with it
  const S_BIG = newSecret('a'.repeat(125 * 1024 - 24));
  const TRACKED = [S_BIG, S_UNICODE, S_RT, S_SESSION, S_EXPLICIT, S_CMD, S_LATER, S_EXPL_SESS_VIA_CMD, S_8, ...S_DEFAULT];
  const m = (s: string) => mask(s, TRACKED);

  let sid: string; // env API_TOKEN=S_SESSION, redaction on (default)

  before(async () => {
    d = await startDaemon({ env: { DAEMON_API_TOKEN: S_RT }, flags: ['--kill-grace-s', '1'] });
    rec = await Recorder.open(d);
    open = await Recorder.open(d);
    sid = (await rec.ok('session.create', { env: { API_TOKEN: S_SESSION } })).session_id;
  });
  after(async () => {
    rec?.close();
    open?.close();
    await d?.shutdownClean();
  });

  const run = async (r: Recorder, params: Record<string, unknown>) => {
    const data = await r.ok('exec.run', params, TRACKED);
    assert.equal(data.running, false, m(JSON.stringify(data)));
    return data as { stdout: string; stderr: string; exit_code: number; command_id: string };
  };

  it('the commands get the real values (proved by hash): runtime, session and command level', async () => {
    const r = await run(rec, {
      session_id: sid,
      command: 'for v in "$DAEMON_API_TOKEN" "$API_TOKEN" "$OTHER_NAME"; do printf %s "$v" | sha256sum | cut -c1-64; done',
      env: { OTHER_NAME: S_CMD },
      secret_keys: ['OTHER_NAME'],
    });
    assert.equal(r.stdout, `${sha256(S_RT)}\n${sha256(S_SESSION)}\n${sha256(S_CMD)}\n`);
  });

  it('in one write (twice on a line, with text around it) and from the daemon environment', async () => {
    const r = await run(rec, { session_id: sid, command: 'printf "a=%s;b=%s.\\n" "$API_TOKEN" "$API_TOKEN"; printf "rt:%s\\n" "$DAEMON_API_TOKEN"' });
    assert.equal(r.stdout, `a=${R};b=${R}.\nrt:${R}\n`, m(r.stdout));
  });

  it('split across two writes with a pause between (stdout and stderr)', async () => {
    const r = await run(rec, {
      session_id: sid,
      command: `printf '<'; ${splitPrint('API_TOKEN')}; printf '>\\n'; { printf '['; ${splitPrint('DAEMON_API_TOKEN', 5)}; printf ']\\n'; } >&2`,
    });
    assert.equal(r.stdout, `<${R}>\n`, m(r.stdout));
    assert.equal(r.stderr, `[${R}]\n`, m(r.stderr));
  });

  it('in stderr', async () => {
    const r = await run(rec, { session_id: sid, command: 'printf "err %s\\n" "$API_TOKEN" >&2; echo out' });
    assert.equal(r.stderr, `err ${R}\n`, m(r.stderr));
    assert.equal(r.stdout, 'out\n');
  });

  it('in a streamed command (exec.stream events), split across writes, on both streams', async () => {
    const { collected } = await rec.stream('exec.stream', { session_id: sid, command: `echo start; ${splitPrint('API_TOKEN')}; echo; ${splitPrint('API_TOKEN', 3)} >&2; echo >&2` }, TRACKED);
    assert.equal(collected.exit?.['exit_code'], 0, JSON.stringify(collected.exit));
    assert.equal(collected.stdout.text, `start\n${R}\n`, m(collected.stdout.text));
    assert.equal(collected.stderr.text, `${R}\n`, m(collected.stderr.text));
  });

  it('in exec.wait, exec.output (utf8 and base64) and an exec.attach replay of a background command', async () => {
    const started = await rec.ok('exec.start', { session_id: sid, command: `${splitPrint('API_TOKEN')}; echo; printf "e:%s\\n" "$API_TOKEN" >&2` }, TRACKED);
    const cid = started.command_id as string;
    const waited = await rec.ok('exec.wait', { command_id: cid, timeout_s: 10 }, TRACKED);
    assert.equal(waited.stdout, `${R}\n`, m(JSON.stringify(waited)));
    assert.equal(waited.stderr, `e:${R}\n`, m(JSON.stringify(waited)));
    const out = await rec.ok('exec.output', { command_id: cid }, TRACKED);
    assert.equal(out.data, `${R}\n`, m(JSON.stringify(out)));
    const err = await rec.ok('exec.output', { command_id: cid, stream: 'stderr' }, TRACKED);
    assert.equal(err.data, `e:${R}\n`, m(JSON.stringify(err)));
    const b64 = await rec.ok('exec.output', { command_id: cid, encoding: 'base64' }, TRACKED);
    assert.equal(Buffer.from(b64.data as string, 'base64').toString('utf8'), `${R}\n`);
    const { collected } = await rec.stream('exec.attach', { command_id: cid }, TRACKED);
    assert.equal(collected.stdout.text, `${R}\n`, m(collected.stdout.text));
    assert.equal(collected.stderr.text, `e:${R}\n`, m(collected.stderr.text));
  });

  it('in a terminal (pty) command', async () => {
    const r = await run(rec, { session_id: sid, command: `printf "pty:%s\\n" "$API_TOKEN"; ${splitPrint('API_TOKEN')}; echo`, pty: { cols: 200, rows: 24 } });
    assert.ok(r.stdout.includes(`pty:${R}`), m(JSON.stringify(r.stdout)));
    assert.equal(r.stdout.split(R).length - 1, 2, `expected two redactions: ${m(JSON.stringify(r.stdout))}`);
  });

  it('with check: true, the COMMAND_FAILED details carry redacted output', async () => {
    const r = await rec.call('exec.run', { session_id: sid, command: 'printf "%s\\n" "$API_TOKEN"; printf "%s\\n" "$API_TOKEN" >&2; exit 3', check: true });
    assert.equal(r.error?.code, 'COMMAND_FAILED', m(JSON.stringify(r)));
    assert.ok(JSON.stringify(r).includes(R), `no [REDACTED] in the error: ${m(JSON.stringify(r))}`);
  });

  it('a prefix of a secret that ends the output (or is followed by other text) is not swallowed', async () => {
    const prefix = S_SESSION.slice(0, 12);
    const r = await run(rec, { session_id: sid, command: `printf %s '${prefix}'; printf %s '${prefix}' >&2` });
    assert.equal(r.stdout, prefix);
    assert.equal(r.stderr, prefix);
    const r2 = await run(rec, { session_id: sid, command: `printf %s '${prefix}'; sleep 0.2; printf 'XYZ\\n'` });
    assert.equal(r2.stdout, `${prefix}XYZ\n`);
    const { collected } = await rec.stream('exec.stream', { session_id: sid, command: `printf %s '${prefix}'; sleep 0.2; printf '!'` }, TRACKED);
    assert.equal(collected.stdout.text, `${prefix}!`);
  });

  it('secret_keys marks names that do not look secret: session.create, exec.* (command and session vars), session.update', async () => {
    const s = await rec.ok('session.create', { env: { PLAIN_NAME: S_EXPLICIT, OTHER_PLAIN: S_EXPL_SESS_VIA_CMD }, secret_keys: ['PLAIN_NAME'] }, TRACKED);
    const r = await run(rec, {
      session_id: s.session_id,
      command: 'printf "%s|%s|%s\\n" "$PLAIN_NAME" "$OTHER_NAME" "$OTHER_PLAIN"',
      env: { OTHER_NAME: S_CMD },
      secret_keys: ['OTHER_NAME', 'OTHER_PLAIN'],
    });
    assert.equal(r.stdout, `${R}|${R}|${R}\n`, m(r.stdout));
    const split = await run(rec, { session_id: s.session_id, command: `${splitPrint('PLAIN_NAME')}; echo` });
    assert.equal(split.stdout, `${R}\n`, m(split.stdout));

    await rec.ok('session.update', { session_id: s.session_id, env: { LATER_NAME: S_LATER }, secret_keys: ['LATER_NAME'] }, TRACKED);
    const later = await run(rec, { session_id: s.session_id, command: 'printf "%s\\n" "$LATER_NAME"' });
    assert.equal(later.stdout, `${R}\n`, m(later.stdout));

    // session.info names the keys, never the values
    const info = await rec.ok('session.info', { session_id: s.session_id }, TRACKED);
    assert.deepEqual([...info.secret_keys].sort(), ['LATER_NAME', 'PLAIN_NAME']);
    assert.equal(info.redact_output, true);
    await rec.ok('session.destroy', { session_id: s.session_id });
  });

  it('without secret_keys, a name that does not look secret is not redacted (control)', async () => {
    const value = newSecret('plainvalue-');
    const s = await open.ok('session.create', { env: { PLAIN_NAME: value } });
    const r = await run(open, { session_id: s.session_id, command: 'printf "%s\\n" "$PLAIN_NAME"; printf "%s\\n" "$CMD_PLAIN"', env: { CMD_PLAIN: value } });
    assert.equal(r.stdout, `${value}\n${value}\n`);
    await open.ok('session.destroy', { session_id: s.session_id });
  });

  it('names that look secret are redacted by default (TOKEN, SECRET, KEY, PASSWORD, PASSWD, CREDENTIAL, PRIVATE; any case)', async () => {
    const env = Object.fromEntries(DEFAULT_NAMES.map((n, i) => [n, S_DEFAULT[i]!]));
    const cmd = DEFAULT_NAMES.map((n) => `printf "${n}=%s\\n" "$${n}"`).join('; ');
    const atCmd = await run(rec, { session_id: sid, command: cmd, env });
    assert.equal(atCmd.stdout, DEFAULT_NAMES.map((n) => `${n}=${R}\n`).join(''), m(atCmd.stdout));
    const s = await rec.ok('session.create', { env }, TRACKED);
    const atSession = await run(rec, { session_id: s.session_id, command: cmd });
    assert.equal(atSession.stdout, DEFAULT_NAMES.map((n) => `${n}=${R}\n`).join(''), m(atSession.stdout));
    const info = await rec.ok('session.info', { session_id: s.session_id }, TRACKED);
    assert.deepEqual([...info.env_keys].sort(), [...DEFAULT_NAMES].sort());
    await rec.ok('session.destroy', { session_id: s.session_id });
  });

  it('a value of 8 characters is redacted by default; one of 7 is not', async () => {
    const r8 = await run(rec, { session_id: sid, command: 'printf "[%s]\\n" "$SHORT_TOKEN"', env: { SHORT_TOKEN: S_8 } });
    assert.equal(r8.stdout, `[${R}]\n`, m(r8.stdout));
    const r7 = await run(open, { session_id: sid, command: 'printf "[%s]\\n" "$SHORT_TOKEN"', env: { SHORT_TOKEN: S_7 } });
    assert.equal(r7.stdout, `[${S_7}]\n`);
  });

  it('a non-ASCII value is redacted, also when a write splits it inside a multi-byte character', async () => {
    const r = await run(rec, {
      session_id: sid,
      // 'pässwörd' + hex: the first write ends in the middle of 'ä' (2 bytes in UTF-8)
      command: `{ printf %s "$UNI_TOKEN" | head -c 2; sleep 0.3; printf %s "$UNI_TOKEN" | tail -c +3; echo; }`,
      env: { UNI_TOKEN: S_UNICODE },
    });
    assert.equal(r.stdout, `${R}\n`, m(r.stdout));
  });

  it('a variable named in secret_keys is redacted whatever the length of its value (session.create, session.update, exec)', async () => {
    const s = await rec.ok('session.create', { env: { PIN: '1234', EMPTY: '' }, secret_keys: ['PIN', 'EMPTY'] }, TRACKED);
    const pin = await run(rec, { session_id: s.session_id, command: 'echo $PIN' });
    assert.equal(pin.stdout, `${R}\n`);
    const atExec = await run(rec, { session_id: s.session_id, command: 'printf "[%s][%s]\\n" "$CODE" "$EMPTY"', env: { CODE: 'x9' }, secret_keys: ['CODE'] });
    assert.equal(atExec.stdout, `[${R}][]\n`, 'a 2-character value named at exec is redacted; an empty one leaves nothing to hide');
    await rec.ok('session.update', { session_id: s.session_id, env: { ONE: 'Q' }, secret_keys: ['ONE'] });
    const one = await run(rec, { session_id: s.session_id, command: 'printf "%s|%s\\n" "$ONE" "$PIN"' });
    assert.equal(one.stdout, `${R}|${R}\n`);
    await rec.ok('session.destroy', { session_id: s.session_id });
  });

  it('a 125 KB *_TOKEN and streamed output of near misses: system.ping answers meanwhile, the output is redacted exactly', async () => {
    const dir = makeTempDir();
    const gate = path.join(dir, 'go');
    const pinger = await Recorder.open(d);
    try {
      const s = await rec.ok('session.create', { env: { BIG_TOKEN: S_BIG } }, TRACKED);
      const miss = `${S_BIG.slice(0, -1)}Z`; // all but the last byte of the secret
      const misses = 'i=0; while [ $i -lt 8 ]; do printf %s "$m"; i=$((i+1)); done';
      // Near misses, then (once the ping has answered: the gate) more near misses and the value itself.
      const command = `m="\${BIG_TOKEN%?}Z"; ${misses}; n=0; while [ ! -e '${gate}' ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; ${misses}; printf '<%s>\\n' "$BIG_TOKEN"`;
      const response = await rec.call('exec.stream', { session_id: s.session_id, command });
      assert.equal(response.ok, true, m(JSON.stringify(response)).slice(0, 600));
      const pinged: { reply?: Promise<RawLine> } = {};
      const collected = await collectRaw(rec.conn, response.data.stream_id as string, {
        onEvent: (ev) => {
          if (ev.event !== 'stdout' || pinged.reply) return;
          // On another connection, while the near misses are being redacted; the command goes on once it answered.
          pinged.reply = pinger.call('system.ping', {}).then((r) => (fs.writeFileSync(gate, ''), r));
        },
      });
      assert.ok(pinged.reply, 'no stdout event came');
      const pong = await pinged.reply;
      assert.equal(pong.ok, true, `system.ping failed: ${JSON.stringify(pong).slice(0, 300)}`);
      assert.equal(collected.exit?.['exit_code'], 0, m(JSON.stringify(collected.exit)));
      assert.ok(fs.existsSync(gate), 'the gate was not opened');
      const expected = `${miss.repeat(16)}<${R}>\n`;
      const got = collected.stdout.text;
      assert.ok(got === expected, `stdout: ${got.length} chars (expected ${expected.length}), ends with ${JSON.stringify(m(got.slice(-40)))}`);
      await rec.ok('session.destroy', { session_id: s.session_id });
    } finally {
      pinger.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exec.info and exec.list show the command text with secret values replaced', async () => {
    const r = await run(rec, { session_id: sid, command: `echo '${S_SESSION}' >/dev/null; echo '${S_CMD}' >/dev/null; echo done`, env: { OTHER_NAME: S_CMD }, secret_keys: ['OTHER_NAME'] });
    assert.equal(r.stdout, 'done\n');
    const info = await rec.ok('exec.info', { command_id: r.command_id }, TRACKED);
    assert.equal(info.command, `echo '${R}' >/dev/null; echo '${R}' >/dev/null; echo done`, m(JSON.stringify(info)));
    const list = await rec.ok('exec.list', { session_id: sid }, TRACKED);
    const mine = (list.commands as Array<{ command_id: string; command: string }>).find((c) => c.command_id === r.command_id);
    assert.ok(mine, 'exec.list does not list the command');
    assert.equal(mine.command, info.command);
  });

  it('redact_output: false at session.create lets the values through (session, runtime, command level)', async () => {
    const s = await open.ok('session.create', { env: { API_TOKEN: S_SESSION }, redact_output: false });
    const r = await run(open, {
      session_id: s.session_id,
      command: `printf "%s|%s|%s\\n" "$API_TOKEN" "$DAEMON_API_TOKEN" "$OTHER_NAME"; ${splitPrint('API_TOKEN')} >&2`,
      env: { OTHER_NAME: S_CMD },
      secret_keys: ['OTHER_NAME'],
    });
    assert.equal(r.stdout, `${S_SESSION}|${S_RT}|${S_CMD}\n`);
    assert.equal(r.stderr, S_SESSION);
    // the split writes really arrive as separate chunks (so the split cases above test what they claim)
    const { collected } = await open.stream('exec.stream', { session_id: s.session_id, command: splitPrint('API_TOKEN') });
    assert.equal(collected.stdout.text, S_SESSION);
    assert.ok(collected.stdout.chunks >= 2, `the value came in ${collected.stdout.chunks} chunk(s), expected 2`);
    const info = await open.ok('session.info', { session_id: s.session_id });
    assert.equal(info.redact_output, false);
    assert.ok(!JSON.stringify(info).includes(S_SESSION), 'session.info carries a value');
    await open.ok('session.destroy', { session_id: s.session_id });
  });

  it('session.update redact_output: false turns it off, true turns it back on', async () => {
    const s = await rec.ok('session.create', { env: { API_TOKEN: S_SESSION } }, TRACKED);
    const before = await run(rec, { session_id: s.session_id, command: 'printf "%s\\n" "$API_TOKEN"' });
    assert.equal(before.stdout, `${R}\n`, m(before.stdout));
    await open.ok('session.update', { session_id: s.session_id, redact_output: false });
    const off = await run(open, { session_id: s.session_id, command: 'printf "%s\\n" "$API_TOKEN"' });
    assert.equal(off.stdout, `${S_SESSION}\n`);
    assert.equal((await open.ok('session.info', { session_id: s.session_id })).redact_output, false);
    await rec.ok('session.update', { session_id: s.session_id, redact_output: true });
    const on = await run(rec, { session_id: s.session_id, command: 'printf "%s\\n" "$API_TOKEN"' });
    assert.equal(on.stdout, `${R}\n`, m(on.stdout));
    await rec.ok('session.destroy', { session_id: s.session_id });
  });

  it('no line the daemon sent on the redacting connection carries a tracked value', () => {
    assert.ok(rec.received.length > 20, `only ${rec.received.length} lines recorded`);
    for (const [i, line] of rec.received.entries()) {
      for (const s of TRACKED) assert.ok(!line.includes(s), `line #${i + 1} carries a secret value: ${m(line).slice(0, 500)}`);
    }
  });
});
