/**
 * The CLI's live front ends: `trl exec` prints output as it comes (not at the
 * end), and `trl shell` is an interactive PTY shell that survives detaching
 * (Ctrl-P Ctrl-Q) and is re-attached with `trl shell -s ID` or
 * `trl attach CMDID`, keeping its cwd and its jobs. Driven through a real
 * tmux on a private server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Tmux, tmuxUnavailable } from './helpers/tmux.js';
import { connect } from './helpers/client.js';
import { type Daemon, MAIN_JS, makeTempDir, startDaemon } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { findSleeps, killSleeps, uniqueSleep } from './helpers/processes.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** [stream, ms since spawn, text] per chunk */
  chunks: Array<[string, number, string]>;
}

function runCli(args: string[], timeoutMs = 15_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [MAIN_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r: CliRun = { code: null, stdout: '', stderr: '', chunks: [] };
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (s: string) => {
      r.stdout += s;
      r.chunks.push(['stdout', Date.now() - t0, s]);
    });
    p.stderr.on('data', (s: string) => {
      r.stderr += s;
      r.chunks.push(['stderr', Date.now() - t0, s]);
    });
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`trl ${args.join(' ')} did not finish within ${timeoutMs} ms; stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`));
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      r.code = code;
      resolve(r);
    });
  });
}

/** Time at which `text` had fully arrived on `stream`. */
function arrivalOf(r: CliRun, stream: string, text: string): number {
  let acc = '';
  for (const [s, t, chunk] of r.chunks) {
    if (s !== stream) continue;
    acc += chunk;
    if (acc.includes(text)) return t;
  }
  assert.fail(`${JSON.stringify(text)} never arrived on ${stream}: ${JSON.stringify(acc)}`);
}

describe('trl exec streams live', () => {
  let d: Daemon;

  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.shutdownClean();
  });

  it("`trl exec -- sh -c 'echo a; sleep 1; echo b'` shows a a second before b, and exits with the command's status", async () => {
    const r = await runCli(['exec', '--socket', d.socketPath, '--', 'sh', '-c', 'echo a; echo x >&2; sleep 1; echo b; exit 3']);
    assert.equal(r.stdout, 'a\nb\n');
    assert.equal(r.stderr, 'x\n');
    assert.equal(r.code, 3);
    const ta = arrivalOf(r, 'stdout', 'a\n');
    const tx = arrivalOf(r, 'stderr', 'x\n');
    const tb = arrivalOf(r, 'stdout', 'b\n');
    assert.ok(tb - ta >= 800, `a arrived only ${tb - ta} ms before b: the output was not streamed`);
    assert.ok(tb - tx >= 800, `stderr x arrived only ${tb - tx} ms before b: stderr was not streamed`);
  });

  it('`trl exec` in a session streams too, and a shell command line keeps its state', async () => {
    const c = await connect(d);
    try {
      const sid = (await c.call('session.create', { working_dir: '/' })).session_id;
      const r = await runCli(['exec', '--socket', d.socketPath, '-s', sid, 'cd /tmp; echo one; sleep 1; echo two']);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, 'one\ntwo\n');
      assert.ok(arrivalOf(r, 'stdout', 'two\n') - arrivalOf(r, 'stdout', 'one\n') >= 800, 'not streamed');
      assert.equal((await c.call('exec.run', { session_id: sid, command: 'pwd' })).stdout, '/tmp\n');
      await c.call('session.destroy', { session_id: sid });
    } finally {
      c.close();
    }
  });
});

describe('trl shell: detach and re-attach (tmux)', () => {
  const unavailable = tmuxUnavailable();
  let tmux: Tmux;
  let wd: string;
  const spawned: number[] = [];

  const { d, c } = useDaemon(() => {
    wd = fs.realpathSync(makeTempDir('/tmp/trl-wd-'));
    return { flags: ['--default-working-dir', wd, '--default-timeout-s', '0'] };
  });
  before(async () => {
    tmux = new Tmux();
  });
  after(() => {
    tmux?.killServer();
    killSleeps(spawned);
    if (wd) fs.rmSync(wd, { recursive: true, force: true });
  });

  const trl = (...args: string[]) => [process.execPath, MAIN_JS, ...args];

  async function detach(name: string): Promise<void> {
    tmux.sendKeys(name, 'C-p');
    tmux.sendKeys(name, 'C-q');
    const gone = await waitFor(() => tmux.paneDead(name), DEADLINE_MS, 50);
    assert.ok(gone, `the client in ${name} did not exit after Ctrl-P Ctrl-Q; screen:\n${tmux.capture(name)}`);
    tmux.killSession(name);
  }

  it('keeps its cwd and running job across detach; re-attached with `trl shell -s ID` and `trl attach CMDID`', { skip: unavailable ?? false }, async () => {
    const sid = (await c.call('session.create', {})).session_id;
    const n = uniqueSleep();
    spawned.push(n);

    // 1. an interactive shell in a 120x40 terminal
    tmux.newSession('one', trl('shell', '--socket', d.socketPath, '-s', sid), 120, 40, { SHELL: '/bin/sh' }); // the plain shell: this is about detaching, not the user's rc files
    const prompt = await tmux.waitForScreen('one', (s) => s.trim().length > 0);
    assert.ok(prompt.ok, 'trl shell showed nothing (no prompt)');
    assert.ok(!tmux.paneDead('one'), `trl shell exited at once:\n${prompt.screen}`);
    // `cd /tmp && sleep N &` would background the cd as well (it is one AND-list): cd first, then the job
    tmux.sendText('one', `cd /tmp; sleep ${n} &`);
    tmux.sendKeys('one', 'Enter');
    assert.ok(await waitFor(() => findSleeps(n).length > 0), `the background job did not start; screen:\n${tmux.capture('one')}`);

    // 2. detach: the client exits, the shell and its job stay
    await detach('one');
    assert.ok(findSleeps(n).length > 0, 'the background job died when the client detached');
    const running = ((await c.call('exec.list', { session_id: sid })).commands as Array<Record<string, unknown>>).filter((x) => x['state'] === 'running' && x['pty'] === true);
    assert.equal(running.length, 1, `expected the shell to run on in the session: ${JSON.stringify(running)}`);
    const shellId = running[0]!['command_id'] as string;

    // 3. re-attach with `trl shell -s ID`: same shell, cwd /tmp, the job listed
    tmux.newSession('two', trl('shell', '--socket', d.socketPath, '-s', sid), 120, 40, { SHELL: '/bin/sh' });
    await tmux.waitForScreen('two', (s) => s.trim().length > 0);
    tmux.sendText('two', 'echo "mark-$((6*7))"; pwd; jobs');
    tmux.sendKeys('two', 'Enter');
    const shown = await tmux.waitForScreen('two', (s) => /^mark-42\s*$/m.test(s) && /Running/.test(s.slice(s.lastIndexOf('mark-42'))));
    assert.ok(shown.ok, `no output of pwd; jobs after re-attaching:\n${shown.screen}`);
    const afterMark = shown.screen
      .slice(shown.screen.lastIndexOf('mark-42'))
      .split('\n')
      .map((l) => l.trim());
    assert.ok(afterMark.includes('/tmp'), `pwd after re-attaching is not /tmp:\n${shown.screen}`);
    assert.ok(
      afterMark.some((l) => /Running/.test(l) && l.includes(`sleep ${n}`)),
      `jobs does not list the sleep after re-attaching:\n${shown.screen}`,
    );
    assert.equal(
      ((await c.call('exec.list', { session_id: sid })).commands as Array<Record<string, unknown>>).filter((x) => x['state'] === 'running' && x['pty'] === true).length,
      1,
      '`trl shell -s ID` started a second shell instead of re-attaching',
    );
    await detach('two');

    // 4. re-attach with `trl attach CMDID`
    tmux.newSession('three', trl('attach', '--socket', d.socketPath, shellId), 120, 40);
    await tmux.waitForScreen('three', (s) => s.trim().length > 0);
    tmux.sendText('three', 'echo "attached-$((2+3))"; pwd');
    tmux.sendKeys('three', 'Enter');
    const att = await tmux.waitForScreen('three', (s) => /^attached-5\s*$/m.test(s) && /^\/tmp\s*$/m.test(s.slice(s.lastIndexOf('attached-5'))));
    assert.ok(att.ok, `trl attach: no output from the shell:\n${att.screen}`);
    assert.ok(findSleeps(n).length > 0, 'the job is gone');

    // the shell's terminal has the size of the terminal the client runs in
    tmux.sendText('three', 'echo "size:$(stty size)"');
    tmux.sendKeys('three', 'Enter');
    const sized = await tmux.waitForScreen('three', (s) => /^size:\d+ \d+\s*$/m.test(s));
    assert.ok(sized.ok, `no stty size output:\n${sized.screen}`);
    assert.match(sized.screen, /^size:40 120\s*$/m, 'the pty does not have the size of the terminal the client runs in');

    // 5. exiting the shell ends the command and the client
    tmux.sendText('three', 'kill %1; exit');
    tmux.sendKeys('three', 'Enter');
    assert.ok(await waitFor(() => tmux.paneDead('three')), `the client did not exit with the shell:\n${tmux.capture('three')}`);
    const st = await c.call('exec.info', { command_id: shellId });
    assert.notEqual(st.state, 'running');
    await c.call('session.destroy', { session_id: sid, force: true });
  });
});
