/**
 * State capture (PROTOCOL §6) in each POSIX shell a session may use: bash,
 * dash, zsh, mksh and busybox sh, on the host tier; zsh also in the sandbox
 * tier, whose commands run through the same script. zsh and mksh run the EXIT
 * trap where `exit` was called, inside the redirection that hides the state
 * fd: `exit N` must still report the state, with nothing on stderr.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { removeShellLinks, skipMissing, testShells, type TestShell } from './helpers/shells.js';
import { removeWorkspace, tierWorkspace } from './helpers/tiers.js';
import { type TrlClient } from './helpers/client.js';
import { makeTempDir } from './helpers/daemon.js';
import { useDaemon, useTierDaemon } from './helpers/fixture.js';

/** Values whose quoting differs from shell to shell; none holds a NUL, the separator of the check. */
const TRICKY = [
  'a\nb',
  'trailing newline\n',
  `it's "quoted" \`tick\` $dollar \${brace} $(cmd)`,
  'back\\slash \\\\ \\n \\',
  "'",
  '',
  '  lead  and trail  ',
  'é☃🙂 \u0085\u00a0\u2028',
  'ctl \u0001\u001b\t\r\u007f',
  'a=b=c',
  '*?[a-z] ~root #x !! ; | & ( ) { } -n',
];

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Register the checks of one shell; `ctx()` gives the client and a workspace once `before` ran, or a reason to skip. */
function shellChecks(shell: TestShell, ctx: () => { c: TrlClient; work: string; skip: string | null }) {
  const begin = async (t: TestContext): Promise<{ c: TrlClient; work: string; sid: string } | null> => {
    if (skipMissing(t, shell)) return null;
    const { c, work, skip } = ctx();
    if (skip) {
      t.skip(skip);
      return null;
    }
    const s = await c.call('session.create', { working_dir: work, shell: shell.path! });
    assert.equal(s.shell, shell.path);
    return { c, work, sid: s.session_id };
  };
  const run = (c: TrlClient, session_id: string, command: string) => c.call('exec.run', { session_id, command, timeout_s: 20 });

  it(`${shell.name}: \`cd sub\` persists`, async (t) => {
    const x = await begin(t);
    if (!x) return;
    const r = await run(x.c, x.sid, 'cd sub');
    assert.equal(r.exit_code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.working_dir, path.join(x.work, 'sub'));
    assert.equal((await run(x.c, x.sid, 'pwd')).stdout, path.join(x.work, 'sub') + '\n');
    await x.c.call('session.destroy', { session_id: x.sid, force: true });
  });

  it(`${shell.name}: exported tricky values persist byte-exact, over several commands; \`unset\` removes one`, async (t) => {
    const x = await begin(t);
    if (!x) return;
    const names = TRICKY.map((_, i) => `T${i}`);
    const r = await run(x.c, x.sid, names.map((n, i) => `export ${n}=${quote(TRICKY[i]!)}`).join('\n'));
    assert.equal(r.exit_code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const show = `printf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}`;
    for (let round = 0; round < 2; round++) {
      // each command hands the values to a new shell and reads them back from it
      const out = await run(x.c, x.sid, show);
      assert.equal(out.exit_code, 0, out.stderr);
      assert.deepEqual(out.stdout.split('\0').slice(0, -1), TRICKY, `round ${round}`);
    }
    const info = await x.c.call('session.info', { session_id: x.sid });
    for (const n of names) assert.ok(info.env_keys.includes(n), `${n} missing from env_keys ${JSON.stringify(info.env_keys)}`);
    await run(x.c, x.sid, 'unset T0');
    assert.equal((await run(x.c, x.sid, 'echo "${T0-unset} $T9"')).stdout, 'unset a=b=c\n');
    await x.c.call('session.destroy', { session_id: x.sid, force: true });
  });

  it(`${shell.name}: \`exit 3\` returns 3, keeps the state, and writes nothing to stderr`, async (t) => {
    const x = await begin(t);
    if (!x) return;
    const r = await run(x.c, x.sid, 'cd sub; export AFTER_EXIT=yes; exit 3');
    assert.equal(r.exit_code, 3);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '');
    assert.equal(r.working_dir, path.join(x.work, 'sub'));
    // from a function too (bash then runs the trap inside the function)
    const r2 = await run(x.c, x.sid, 'f() { cd ..; export IN_F=1; exit 4; }; f');
    assert.equal(r2.exit_code, 4);
    assert.equal(r2.stderr, '');
    assert.equal(r2.working_dir, x.work);
    assert.equal((await run(x.c, x.sid, 'pwd; echo "${AFTER_EXIT-unset} ${IN_F-unset}"')).stdout, `${x.work}\nyes 1\n`);
    await x.c.call('session.destroy', { session_id: x.sid, force: true });
  });

  it(`${shell.name}: \`set -e; false\` ends with 1 and keeps the state`, async (t) => {
    const x = await begin(t);
    if (!x) return;
    const r = await run(x.c, x.sid, 'set -e; cd sub; export SE=1; false; echo not-reached');
    assert.equal(r.exit_code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    const r2 = await run(x.c, x.sid, 'pwd; echo "${SE-unset}"');
    assert.equal(r2.stdout, `${path.join(x.work, 'sub')}\n1\n`);
    await x.c.call('session.destroy', { session_id: x.sid, force: true });
  });

  it(`${shell.name}: programs the command starts get no fd of trl's, also after \`exec\` (which keeps no state)`, async (t) => {
    const x = await begin(t);
    if (!x) return;
    const list = `/bin/sh -c 'ls /proc/$$/fd'`;
    // What any program of the daemon's gets (0-2, and whatever the daemon itself inherited): argv mode, no shell, no state fd.
    const base = await x.c.call('exec.run', { session_id: x.sid, argv: ['/bin/sh', '-c', 'ls /proc/$$/fd'], timeout_s: 20 });
    assert.match(base.stdout, /^0\n1\n2\n/);
    const r = await run(x.c, x.sid, `cd sub; ${list}; f() { ${list}; }; f; ${list} & wait`);
    assert.equal(r.exit_code, 0, r.stderr);
    assert.equal(r.stdout, base.stdout.repeat(3));
    const r2 = await run(x.c, x.sid, `cd ..; export BY_EXEC=1; exec ${list}`);
    assert.equal(r2.exit_code, 0, r2.stderr);
    assert.equal(r2.stdout, base.stdout);
    assert.equal(r2.working_dir, path.join(x.work, 'sub'), "a shell that exec'd away reports no state");
    assert.equal((await run(x.c, x.sid, 'echo "${BY_EXEC-unset}"')).stdout, 'unset\n');
    await x.c.call('session.destroy', { session_id: x.sid, force: true });
  });

  it(`${shell.name}: neither the shell's own variables nor unexported variables, functions or aliases become state`, async (t) => {
    const x = await begin(t);
    if (!x) return;
    for (const cmd of ['true', 'exit 3', 'NOTEXPORTED=1; f() { :; }; alias al=true']) await run(x.c, x.sid, cmd);
    const info = await x.c.call('session.info', { session_id: x.sid });
    assert.deepEqual(info.env_keys, []);
    const r = await run(x.c, x.sid, 'echo "${NOTEXPORTED-unset}"; command -v f >/dev/null 2>&1 && echo has-f || echo no-f; alias al >/dev/null 2>&1 && echo has-al || echo no-al');
    assert.equal(r.stdout, 'unset\nno-f\nno-al\n');
    await x.c.call('session.destroy', { session_id: x.sid, force: true });
  });
}

describe('state capture in each shell, host tier', () => {
  const { c } = useDaemon();
  let work: string;
  before(async () => {
    work = fs.realpathSync(makeTempDir('/tmp/trl-shells-'));
    fs.mkdirSync(path.join(work, 'sub'));
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
    removeShellLinks();
  });
  for (const shell of testShells()) shellChecks(shell, () => ({ c, work, skip: null }));
});

describe('state capture in zsh, sandbox tier', () => {
  const tier = useTierDaemon('sandbox');
  let work: string;
  before(async () => {
    work = tierWorkspace('trl-shells-sb-');
    fs.mkdirSync(path.join(work, 'sub'));
  });
  after(() => {
    if (work) removeWorkspace(work);
  });
  const zsh = testShells().find((s) => s.name === 'zsh')!;
  shellChecks(zsh, () => ({ c: tier.client!, work, skip: tier.skipReason }));
});
