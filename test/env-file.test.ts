/**
 * docs/security.md runtime-level variables: `trl serve --env-file FILE` (or
 * TRL_ENV_FILE; default `.env` in the daemon's cwd). The file must belong to
 * the daemon's user and be closed to group and others, else the daemon refuses
 * to start and names the fix. Its variables reach every child; the daemon's
 * own environment wins for the same name. No TRL_* variable of the daemon
 * (TRL_AUTH_TOKEN included) ever reaches a child.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mask, newSecret, Recorder, writeFileMode } from './helpers/secrets.js';
import { type Daemon, exitWithin, makeTempDir, startDaemon } from './helpers/daemon.js';

const R = '[REDACTED]';
const isRoot = process.getuid?.() === 0;

/** Start a daemon that must refuse to start; returns its exit code and everything it printed. */
async function refusal(opts: Parameters<typeof startDaemon>[0]): Promise<Refusal> {
  const d = await startDaemon({ ...opts, noWait: true });
  const code = await exitWithin(d);
  if (code === 'timeout') {
    await d.dispose();
    assert.fail(`the daemon did not refuse to start; it said:\n${d.logs().slice(0, 1500)}`);
  }
  const socketLeft = fs.existsSync(d.socketPath);
  await d.dispose(); // removes the directory only if startDaemon created it
  return { code, logs: d.logs(), socketLeft };
}

interface Refusal {
  code: number | null;
  logs: string;
  socketLeft: boolean;
}

describe('.env file permissions', () => {
  let root: string;
  const SECRET = newSecret('envfileS3cr3t-');

  before(() => {
    root = makeTempDir('/tmp/trl-envfile-');
  });
  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const check = (r: Refusal, fix: RegExp, what: string) => {
    assert.notEqual(r.code, 0, `${what}: the daemon exited 0; it said: ${mask(r.logs, [SECRET]).slice(0, 1500)}`);
    assert.match(r.logs, fix, `${what}: the message does not name the fix: ${mask(r.logs, [SECRET]).slice(0, 800)}`);
    assert.ok(!r.logs.includes(SECRET), `${what}: the refusal prints a value from the file`);
    assert.equal(r.socketLeft, false, `${what}: a socket was left behind`);
  };

  it('a group/world-readable .env in the cwd (0644) → refusal naming `chmod 600 <path>`', async () => {
    const dir = fs.mkdtempSync(path.join(root, 'cwd-'));
    const file = path.join(dir, '.env');
    writeFileMode(file, `API_TOKEN=${SECRET}\n`, 0o644);
    const r = await refusal({ dir });
    check(r, new RegExp(`chmod 600 ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), '0644 .env');
  });

  it('--env-file with mode 0640 and TRL_ENV_FILE with mode 0604 → refusal naming chmod 600', async () => {
    const f1 = path.join(root, 'group.env');
    writeFileMode(f1, `API_TOKEN=${SECRET}\n`, 0o640);
    check(await refusal({ flags: ['--env-file', f1] }), new RegExp(`chmod 600 ${f1.replace(/\./g, '\\.')}`), '0640 --env-file');
    const f2 = path.join(root, 'world.env');
    writeFileMode(f2, `API_TOKEN=${SECRET}\n`, 0o604);
    check(await refusal({ env: { TRL_ENV_FILE: f2 } }), new RegExp(`chmod 600 ${f2.replace(/\./g, '\\.')}`), '0604 TRL_ENV_FILE');
  });

  it('a .env owned by another user (uid 65534, mode 0600) → refusal naming chown', async (t) => {
    if (!isRoot) {
      t.skip('not root: cannot chown a file to another user');
      console.log('# skipped: the other-owner case needs root to chown the file to uid 65534');
      return;
    }
    const dir = fs.mkdtempSync(path.join(root, 'cwd-'));
    const file = path.join(dir, '.env');
    writeFileMode(file, `API_TOKEN=${SECRET}\n`, 0o600);
    fs.chownSync(file, 65534, 65534);
    check(await refusal({ dir }), /chown/, '.env of uid 65534 in the cwd');
    check(await refusal({ flags: ['--env-file', file] }), /chown/, '--env-file of uid 65534');
  });

  it('an --env-file that does not exist → refusal', async () => {
    const r = await refusal({ flags: ['--env-file', path.join(root, 'missing.env')] });
    assert.notEqual(r.code, 0);
    assert.match(r.logs, /missing\.env/);
  });
});

describe('.env variables reach every child; the daemon environment wins', () => {
  const FILE_SECRET = newSecret('envfileS3cr3t-');
  let d: Daemon;
  let rec: Recorder;

  before(async () => {
    const dir = makeTempDir();
    writeFileMode(path.join(dir, '.env'), `# runtime variables\nFROM_FILE=file-value\nSHARED=from-file\nQUOTED="two words"\nFILE_API_TOKEN=${FILE_SECRET}\nLAYERED=runtime\n`, 0o600);
    d = await startDaemon({ env: { SHARED: 'from-daemon-env' }, dir });
    rec = await Recorder.open(d);
  });
  after(async () => {
    rec?.close();
    await d?.shutdownClean();
    // startDaemon removes only directories it created itself
    if (d) fs.rmSync(d.dir, { recursive: true, force: true });
  });

  it('the default .env (0600, in the cwd) reaches commands of every session; the daemon env wins on the same name', async () => {
    for (let i = 0; i < 2; i++) {
      const s = await rec.ok('session.create', {});
      const r = await rec.ok('exec.run', { session_id: s.session_id, command: 'printf "%s|%s|%s\\n" "$FROM_FILE" "$SHARED" "$QUOTED"' });
      assert.equal(r.stdout, 'file-value|from-daemon-env|two words\n');
      const bg = await rec.ok('exec.start', { session_id: s.session_id, argv: ['/bin/sh', '-c', 'printf %s "$FROM_FILE"'] });
      const w = await rec.ok('exec.wait', { command_id: bg.command_id, timeout_s: 10 });
      assert.equal(w.stdout, 'file-value');
    }
  });

  it('session level overrides runtime level, command level overrides both', async () => {
    const s = await rec.ok('session.create', { env: { LAYERED: 'session' } });
    const r1 = await rec.ok('exec.run', { session_id: s.session_id, command: 'printf %s "$LAYERED"' });
    assert.equal(r1.stdout, 'session');
    const r2 = await rec.ok('exec.run', { session_id: s.session_id, command: 'printf %s "$LAYERED"', env: { LAYERED: 'command' } });
    assert.equal(r2.stdout, 'command');
  });

  it('a secret-looking .env variable is redacted from output and never returned', async () => {
    const s = await rec.ok('session.create', {});
    const r = await rec.ok('exec.run', { session_id: s.session_id, command: 'printf "%s\\n" "$FILE_API_TOKEN"; printf %s "$FILE_API_TOKEN" | wc -c' });
    assert.equal(r.stdout, `${R}\n${FILE_SECRET.length}\n`, mask(r.stdout, [FILE_SECRET]));
    await rec.ok('session.info', { session_id: s.session_id });
    await rec.ok('session.list', {});
    for (const l of rec.received) assert.ok(!l.includes(FILE_SECRET), `a response carries the .env value: ${mask(l, [FILE_SECRET]).slice(0, 300)}`);
  });

  it('the logs name the file or its keys, never its values', async () => {
    await d.stop();
    assert.ok(!d.logs().includes(FILE_SECRET), 'a .env value is in the daemon logs');
    assert.ok(!d.logs().includes('file-value'), 'a .env value is in the daemon logs');
  });
});

describe('no TRL_* variable of the daemon reaches a child', () => {
  const TOKEN = `trl-auth-${newSecret('tok-')}-${newSecret('en-')}`;
  let d: Daemon;
  let rec: Recorder;
  let envDir: string;

  before(async () => {
    envDir = makeTempDir('/tmp/trl-envfile-');
    const file = path.join(envDir, 'runtime.env');
    writeFileMode(file, 'FROM_TRL_ENV_FILE=yes\n', 0o600);
    d = await startDaemon({
      env: {
        TRL_AUTH_TOKEN: TOKEN,
        TRL_ENV_FILE: file,
        TRL_MAX_SESSIONS: '7',
        TRL_DEFAULT_TIMEOUT_S: '30',
        TRL_KILL_GRACE_S: '1',
        TRL_LOG_LEVEL: 'debug',
        TRL_SOMETHING_ELSE: 'not-for-children',
        NOT_TRL_VAR: 'for-children',
      },
    });
    rec = await Recorder.open(d);
  });
  after(async () => {
    rec?.close();
    await d?.shutdownClean();
    if (envDir) fs.rmSync(envDir, { recursive: true, force: true });
  });

  const trlLines = (out: string) => out.split(/\r?\n/).filter((l) => /^TRL_/.test(l));

  it('`env` in a shell command, an argv command, a background command and a pty command shows no TRL_*', async () => {
    const s = await rec.ok('session.create', { env: { SESSION_VAR: 'x' } });
    // the daemon did read its TRL_* settings: TRL_ENV_FILE took effect
    const probe = await rec.ok('exec.run', { session_id: s.session_id, command: 'printf "%s|%s\\n" "$FROM_TRL_ENV_FILE" "$NOT_TRL_VAR"' });
    assert.equal(probe.stdout, 'yes|for-children\n');
    const outputs: Array<[string, string]> = [];
    outputs.push(['shell', (await rec.ok('exec.run', { session_id: s.session_id, command: 'env' })).stdout]);
    outputs.push(['argv', (await rec.ok('exec.run', { session_id: s.session_id, argv: ['env'] })).stdout]);
    const bg = await rec.ok('exec.start', { session_id: s.session_id, command: 'env' });
    outputs.push(['background', (await rec.ok('exec.wait', { command_id: bg.command_id, timeout_s: 10 })).stdout]);
    outputs.push(['pty', (await rec.ok('exec.run', { session_id: s.session_id, command: 'env', pty: { cols: 200, rows: 50 } })).stdout]);
    outputs.push(['ephemeral', (await rec.ok('exec.run', { command: 'env' })).stdout]);
    const { collected } = await rec.stream('exec.stream', { session_id: s.session_id, command: 'env' });
    outputs.push(['stream', collected.stdout.text]);
    for (const [what, out] of outputs) {
      assert.match(out, /^SESSION_VAR=x\r?$|^PATH=/m, `${what}: \`env\` printed nothing useful: ${out.slice(0, 300)}`);
      assert.deepEqual(trlLines(out), [], `${what}: TRL_* variables reached the child`);
      assert.ok(!out.includes(TOKEN), `${what}: the auth token reached the child`);
      assert.ok(!out.includes('not-for-children'), `${what}: TRL_SOMETHING_ELSE's value reached the child`);
    }
    const direct = await rec.ok('exec.run', { session_id: s.session_id, command: 'echo "${TRL_AUTH_TOKEN-unset}"' });
    assert.equal(direct.stdout, 'unset\n');
  });

  it('the auth token is not in any response or log line', async () => {
    for (const l of rec.received) assert.ok(!l.includes(TOKEN), 'a response carries TRL_AUTH_TOKEN');
    assert.ok(!d.logs().includes(TOKEN), 'the daemon logs carry TRL_AUTH_TOKEN');
  });
});

describe('TRL_* variables written in the .env file do not reach children either', () => {
  let d: Daemon;
  const TOKEN = `trl-auth-${newSecret('tok-')}-${newSecret('en-')}`;

  before(async () => {
    const dir = makeTempDir();
    writeFileMode(path.join(dir, '.env'), `TRL_AUTH_TOKEN=${TOKEN}\nTRL_FROM_FILE=x\nOK_FROM_FILE=y\n`, 0o600);
    d = await startDaemon({ dir });
  });
  after(async () => {
    await d?.shutdownClean();
    if (d) fs.rmSync(d.dir, { recursive: true, force: true });
  });

  it('`env` shows OK_FROM_FILE but no TRL_*', async () => {
    const rec = await Recorder.open(d);
    try {
      const r = await rec.ok('exec.run', { command: 'env' });
      assert.match(r.stdout, /^OK_FROM_FILE=y$/m);
      assert.deepEqual(
        r.stdout
          .split('\n')
          .filter((l: string) => l.startsWith('TRL_'))
          .map((l: string) => l.split('=')[0]),
        [],
        'TRL_* from the .env file reached the child',
      );
    } finally {
      rec.close();
    }
  });
});
