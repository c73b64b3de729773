/**
 * PROTOCOL §6 "State persistence": cwd and exported env carry from one
 * command's shell to the next; killed commands and persist_state:false change
 * nothing; command-level env never persists; session.update edits state.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode } from './helpers/client.js';
import { makeTempDir } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';

describe('session state persistence', () => {
  const { c } = useDaemon();
  let work: string;

  before(async () => {
    work = fs.realpathSync(makeTempDir('/tmp/trl-state-'));
    fs.mkdirSync(path.join(work, 'sub'));
    fs.mkdirSync(path.join(work, 'other'));
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  async function newSession(env: Record<string, string> = {}): Promise<string> {
    const s = await c.call('session.create', { working_dir: work, env });
    assert.equal(s.working_dir, work);
    return s.session_id;
  }
  const run = (session_id: string, command: string, extra: Record<string, unknown> = {}) => c.call('exec.run', { session_id, command, ...extra });

  it('`cd sub` then `pwd` prints …/sub (result, next command and session.info agree)', async () => {
    const sid = await newSession();
    const r1 = await run(sid, 'cd sub');
    assert.equal(r1.exit_code, 0);
    assert.equal(r1.stdout, '');
    assert.equal(r1.stderr, '');
    assert.equal(r1.working_dir, path.join(work, 'sub'));
    const r2 = await run(sid, 'pwd');
    assert.equal(r2.stdout, path.join(work, 'sub') + '\n');
    assert.equal(r2.working_dir, path.join(work, 'sub'));
    const info = await c.call('session.info', { session_id: sid });
    assert.equal(info.working_dir, path.join(work, 'sub'));
    // and relative cd keeps working from there
    await run(sid, 'cd ../other');
    assert.equal((await run(sid, 'pwd')).stdout, path.join(work, 'other') + '\n');
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('`export A=1` then `echo $A` prints 1; `unset A` removes it', async () => {
    const sid = await newSession();
    assert.equal((await run(sid, 'echo "${A-unset}"')).stdout, 'unset\n');
    assert.equal((await run(sid, 'export A=1')).exit_code, 0);
    assert.equal((await run(sid, 'echo $A')).stdout, '1\n');
    // still there two commands later
    assert.equal((await run(sid, 'true')).exit_code, 0);
    assert.equal((await run(sid, 'echo $A')).stdout, '1\n');
    assert.equal((await run(sid, 'unset A')).exit_code, 0);
    assert.equal((await run(sid, 'echo "${A-unset}"')).stdout, 'unset\n');
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('`unset` also removes a variable that came from session.create env', async () => {
    const sid = await newSession({ B: 'from-create', KEEP: 'k' });
    const info0 = await c.call('session.info', { session_id: sid });
    assert.deepEqual([...info0.env_keys].sort(), ['B', 'KEEP']);
    assert.equal((await run(sid, 'echo "$B $KEEP"')).stdout, 'from-create k\n');
    await run(sid, 'unset B');
    assert.equal((await run(sid, 'echo "${B-unset} $KEEP"')).stdout, 'unset k\n');
    const info = await c.call('session.info', { session_id: sid });
    assert.ok(!info.env_keys.includes('B'), `env_keys still has B: ${JSON.stringify(info.env_keys)}`);
    assert.ok(info.env_keys.includes('KEEP'));
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('exported values survive exactly (newlines, =, quotes, spaces, unicode, empty)', async () => {
    const sid = await newSession();
    const r = await run(sid, `export M="$(printf 'line1\\nk=v')"; export Q="it's \\"quoted\\" \\$HOME \\\\ back"; export U='é€😀'; export E=''`);
    assert.equal(r.exit_code, 0, r.stderr);
    assert.equal((await run(sid, 'printf "%s|" "$M" "$Q" "$U" "${E-unset}"')).stdout, `line1\nk=v|it's "quoted" $HOME \\ back|é€😀||`);
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('shell variables that were not exported do not carry over', async () => {
    const sid = await newSession();
    await run(sid, 'NOTEXPORTED=1; f() { echo fn; }');
    assert.equal((await run(sid, 'echo "${NOTEXPORTED-unset}"; type f >/dev/null 2>&1 && echo has-f || echo no-f')).stdout, 'unset\nno-f\n');
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('`cd /tmp; exit 3` returns exit 3 and still carries the cwd (and exports)', async () => {
    const sid = await newSession();
    const r = await run(sid, 'cd /tmp; export AFTER_EXIT=yes; exit 3');
    assert.equal(r.exit_code, 3);
    assert.equal(r.signal, null);
    assert.equal(r.working_dir, '/tmp');
    const r2 = await run(sid, 'pwd; echo "${AFTER_EXIT-unset}"');
    assert.equal(r2.stdout, '/tmp\nyes\n');
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('`set -e` and a failing command still carry the state and do not break the session', async () => {
    const sid = await newSession();
    const r = await run(sid, 'set -e; cd sub; export SE=1; false; echo not-reached');
    assert.equal(r.exit_code, 1);
    assert.equal(r.stdout, '');
    const r2 = await run(sid, 'pwd; echo "${SE-unset}"; echo ok');
    assert.equal(r2.stdout, `${path.join(work, 'sub')}\n1\nok\n`);
    assert.equal(r2.exit_code, 0);
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('a command killed by timeout changes nothing', async () => {
    const sid = await newSession({ KEEP: 'k' });
    const r = await run(sid, 'cd /; export T=1; unset KEEP; sleep 5', { timeout_s: 1 });
    assert.equal(r.timed_out, true);
    assert.equal(r.working_dir, work, 'the session cwd must be unchanged after a timeout');
    const r2 = await run(sid, 'pwd; echo "${T-unset} ${KEEP-unset}"');
    assert.equal(r2.stdout, `${work}\nunset k\n`);
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('a command killed by a signal changes nothing', async () => {
    const sid = await newSession();
    const r = await run(sid, 'cd /; export K=1; kill -KILL $$');
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(r.working_dir, work);
    assert.equal((await run(sid, 'pwd; echo "${K-unset}"')).stdout, `${work}\nunset\n`);
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('`persist_state: false` changes nothing', async () => {
    const sid = await newSession({ KEEP: 'k' });
    const r = await run(sid, 'cd /; export P=1; unset KEEP; pwd', { persist_state: false });
    assert.equal(r.exit_code, 0);
    assert.equal(r.stdout, '/\n', 'the command itself runs normally');
    assert.equal(r.working_dir, work, 'the session cwd must be unchanged');
    assert.equal((await run(sid, 'pwd; echo "${P-unset} ${KEEP-unset}"')).stdout, `${work}\nunset k\n`);
    const info = await c.call('session.info', { session_id: sid });
    assert.equal(info.working_dir, work);
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('command-level env overrides session env for that command only and does not persist', async () => {
    const sid = await newSession({ V: 'session' });
    const r = await run(sid, 'echo "$V $W"', { env: { V: 'command', W: 'only-here' } });
    assert.equal(r.stdout, 'command only-here\n');
    const r2 = await run(sid, 'echo "$V ${W-unset}"');
    assert.equal(r2.stdout, 'session unset\n');
    const info = await c.call('session.info', { session_id: sid });
    assert.deepEqual([...info.env_keys].sort(), ['V']);
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('argv mode runs without a shell and captures no state', async () => {
    const sid = await newSession({ V: 'session' });
    const r = await c.call('exec.run', { session_id: sid, argv: ['printf', '%s|', 'a b', '$V', "it's", ''] });
    assert.equal(r.exit_code, 0);
    assert.equal(r.stdout, "a b|$V|it's||");
    // argv sees the session cwd and env
    const r2 = await c.call('exec.run', { session_id: sid, argv: ['sh', '-c', 'pwd; echo "$V"; cd /; export X=1'] });
    assert.equal(r2.stdout, `${work}\nsession\n`);
    // ... but its shell's cd/export are not captured
    assert.equal((await run(sid, 'pwd; echo "${X-unset}"')).stdout, `${work}\nunset\n`);
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('per-command working_dir: absolute and relative to the session cwd', async () => {
    const sid = await newSession();
    assert.equal((await run(sid, 'pwd', { working_dir: 'sub' })).stdout, path.join(work, 'sub') + '\n');
    assert.equal((await run(sid, 'pwd', { working_dir: '/tmp' })).stdout, '/tmp\n');
    await expectCode(c, 'exec.run', { session_id: sid, command: 'pwd', working_dir: 'no-such-dir' }, 'INVALID_PARAMS');
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('session.update changes env, unset_env, working_dir, name and timeout_s', async () => {
    const sid = await newSession({ B: 'b', KEEP: 'k' });
    const name = `upd-${process.pid}-${Date.now()}`;
    const info = await c.call('session.update', {
      session_id: sid,
      env: { U: 'u-value', KEEP: 'k2' },
      unset_env: ['B'],
      working_dir: path.join(work, 'sub'),
      name,
      timeout_s: 7,
    });
    assert.equal(info.session_id, sid);
    assert.deepEqual([...info.env_keys].sort(), ['KEEP', 'U']);
    assert.equal(info.working_dir, path.join(work, 'sub'));
    assert.equal(info.name, name);
    assert.equal(info.timeout_s, 7);
    const r = await run(sid, 'pwd; echo "$U ${B-unset} $KEEP"');
    assert.equal(r.stdout, `${path.join(work, 'sub')}\nu-value unset k2\n`);
    const info2 = await c.call('session.info', { session_id: sid });
    assert.equal(info2.name, name);
    assert.equal(info2.timeout_s, 7);
    assert.equal(info2.working_dir, path.join(work, 'sub'));
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('session.update rejects a working_dir that does not exist or is not a directory, and unknown sessions', async () => {
    const sid = await newSession();
    const e1 = await expectCode(c, 'session.update', { session_id: sid, working_dir: path.join(work, 'nope') }, 'INVALID_PARAMS');
    assert.match(e1.message, /working_dir/);
    fs.writeFileSync(path.join(work, 'afile'), 'x');
    const e2 = await expectCode(c, 'session.update', { session_id: sid, working_dir: path.join(work, 'afile') }, 'INVALID_PARAMS');
    assert.match(e2.message, /working_dir/);
    await expectCode(c, 'session.update', { session_id: sid, env: { 'BAD-NAME': 'x' } }, 'INVALID_PARAMS');
    // nothing changed
    const info = await c.call('session.info', { session_id: sid });
    assert.equal(info.working_dir, work);
    assert.deepEqual(info.env_keys, []);
    await expectCode(c, 'session.update', { session_id: '00000000-0000-4000-8000-000000000000', name: 'x' }, 'SESSION_NOT_FOUND');
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('the captured state never leaks markers or state dumps into the output', async () => {
    const sid = await newSession({ V: 'v' });
    const r = await run(sid, 'echo hi; export Z=1; cd sub');
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.stderr, '');
    const r2 = await run(sid, 'true');
    assert.equal(r2.stdout, '');
    assert.equal(r2.stderr, '');
    // fd 3+ of the command: nothing the wrapper uses is visible as an open stdout/stderr replacement
    const r3 = await run(sid, 'echo out; echo err >&2; exit 0');
    assert.equal(r3.stdout, 'out\n');
    assert.equal(r3.stderr, 'err\n');
    await c.call('session.destroy', { session_id: sid, force: true });
  });

  it('an unchanged state report after session.update or command env still applies what changed', async () => {
    const sid = await newSession();
    await run(sid, 'true');
    await c.call('session.update', { session_id: sid, env: { FOO: 'from-update' } });
    await run(sid, 'unset FOO');
    assert.equal((await run(sid, 'echo ${FOO-unset}')).stdout, 'unset\n');
    await run(sid, 'true', { env: { BAR: 'cmd' } });
    await run(sid, 'export BAR=kept', { env: { BAR: 'cmd' } });
    assert.equal((await run(sid, 'echo ${BAR-unset}')).stdout, 'kept\n');
    await run(sid, 'cd sub', { working_dir: 'other' });
    assert.equal((await run(sid, 'pwd')).stdout, `${work}\n`);
    await c.call('session.update', { session_id: sid, working_dir: path.join(work, 'other') });
    await run(sid, `cd ${work}`);
    assert.equal((await run(sid, 'pwd')).stdout, `${work}\n`);
    await c.call('session.destroy', { session_id: sid, force: true });
  });
});
