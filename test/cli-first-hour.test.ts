/**
 * Issue 12: the first hour with the CLI, as a docker, ssh and tmux user
 * expects it. Each case is one of the surprises found: background commands
 * killed by the session timeout, a handled Ctrl-C reported as a death, piped
 * input hanging a terminal program or silently dropped, a full-screen program
 * leaving the terminal on the alternate screen, words after `--` run as an
 * argv, names and short ids refused, protocol names in hints, an unexplained
 * SESSION_BUSY, inconsistent exit codes and flags, unmarked cuts and lossy
 * text.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { connect, type TrlClient } from './helpers/client.js';
import { MAIN_JS, makeTempDir, startDaemon, type Daemon } from './helpers/daemon.js';
import { runCli } from './helpers/secrets.js';
import { shQuote, Tmux, tmuxUnavailable } from './helpers/tmux.js';

/** Run `trl ARGS` with `input` on its stdin (a pipe); resolves with its status and output. */
function runCliInput(args: string[], input: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN_JS, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}

describe('the CLI, the way docker, ssh and tmux users expect', () => {
  let d: Daemon;
  let c: TrlClient;
  let env: Record<string, string>;
  let tmux: Tmux | null = null;
  const tmuxMissing = tmuxUnavailable();

  before(async () => {
    d = await startDaemon();
    c = await connect(d);
    env = { TRL_SOCKET_PATH: d.socketPath };
    if (!tmuxMissing) tmux = new Tmux();
  });
  after(async () => {
    tmux?.killServer();
    c?.close();
    await d?.shutdownClean();
  });

  const trl = (...args: string[]) => runCli(args, { env });
  const skipWithoutTmux = (t: { skip(msg: string): void }) => {
    if (!tmuxMissing) return false;
    if (process.env.TRL_REQUIRE_TIERS === '1') assert.fail(tmuxMissing);
    t.skip(tmuxMissing);
    return true;
  };
  /** A shell in a tmux pane with trl on the daemon's socket, ready for keys. */
  const pane = async (name: string) => {
    // bash sets its own PS1 whatever the environment says: wait for its prompt, whatever it looks like.
    tmux!.newSession(name, ['bash', '--norc', '--noprofile'], 120, 30, env);
    const prompt = await tmux!.waitForScreen(name, (s) => /[$#] ?$/m.test(s));
    assert.ok(prompt.ok, `no shell prompt in the pane:\n${prompt.screen}`);
    return {
      type: (line: string) => {
        tmux!.sendText(name, line);
        tmux!.sendKeys(name, 'Enter');
      },
      keys: (...k: string[]) => tmux!.sendKeys(name, ...k),
      waitFor: async (text: string | RegExp) => {
        const r = await tmux!.waitForScreen(name, (s) => (typeof text === 'string' ? s.includes(text) : text.test(s)));
        assert.ok(r.ok, `${String(text)} did not appear:\n${r.screen}`);
        return r.screen;
      },
    };
  };
  const trlLine = (args: string) => `node ${shQuote(MAIN_JS)} ${args}`;

  it('1: a background command has no timeout unless given one; trl start says when it has one', async () => {
    const s = await c.call('session.create', { timeout_s: 1 });
    const bg = await trl('start', '-s', s.session_id, '--', 'sleep', '30');
    assert.equal(bg.code, 0, bg.stderr);
    assert.equal(bg.stderr, '', 'no timeout, nothing said');
    const id = bg.stdout.trim();
    // The session's timeout fires for a foreground command meanwhile…
    const fg = await c.call('exec.run', { session_id: s.session_id, command: 'sleep 5' });
    assert.equal(fg.timed_out, true);
    // …and the background command still runs.
    assert.equal((await c.call('exec.info', { command_id: id })).state, 'running');
    const timed = await trl('start', '-s', s.session_id, '--timeout', '100', '--', 'sleep', '30');
    assert.match(timed.stderr, /killed after 100 s/);
    await c.call('session.destroy', { session_id: s.session_id, force: true });
  });

  it('2: a Ctrl-C the program handles is not its death (trl exec -t python3, Ctrl-C, exit(3) → 3)', async (t) => {
    if (skipWithoutTmux(t)) return;
    const p = await pane('ctrlc');
    p.type(`${trlLine('exec -t python3')}; echo "EXIT=$?"`);
    await p.waitFor('>>>');
    p.type('import time; time.sleep(30)');
    await p.waitFor('time.sleep(30)');
    p.keys('C-c');
    await p.waitFor('KeyboardInterrupt');
    p.type('exit(3)');
    await p.waitFor('EXIT=3');
    // And a Ctrl-C that does end the command ends it (a shell loop stops).
    // The loop says when it runs on its terminal: a Ctrl-C written to the terminal before its shell has made it
    // its controlling terminal signals no one (as on any terminal whose program has not started yet).
    p.type(`${trlLine("exec -t 'while :; do echo tick-$((6*7)); sleep 1; done'")}; echo "LOOP=$?"`);
    await p.waitFor('tick-42');
    p.keys('C-c');
    await p.waitFor('LOOP=130');
  });

  it('3: piped input to a terminal program ends with the input (a terminal end-of-file, as ssh -t)', async () => {
    const r = await runCliInput(['exec', '-t', '--', 'python3', '-q'], 'print(6*7)\n', env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /42/);
  });

  it('4: piped input is passed to the command (as ssh); -n gives it /dev/null', async () => {
    const r = await runCliInput(['exec', '--', 'cat'], 'data\n', env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'data\n');
    const n = await runCliInput(['exec', '-n', '--', 'cat'], 'data\n', env);
    assert.equal(n.code, 0, n.stderr);
    assert.equal(n.stdout, '');
  });

  it('5: a full-screen program run without -t leaves the terminal as it found it, and says to use -t', async (t) => {
    if (skipWithoutTmux(t)) return;
    const p = await pane('fullscreen');
    // What vim does on start (alternate screen, hidden cursor, application keys), then it is cut short.
    const dir = makeTempDir('/tmp/trl-fullscreen-');
    fs.writeFileSync(`${dir}/draw.sh`, "printf '\\033[?1049h\\033[?25l\\033[?1h'; sleep 0.2; kill -9 $$\n");
    p.type(`${trlLine(`exec -- sh ${dir}/draw.sh`)}; echo "DONE=$?"`);
    await p.waitFor(/DONE=\d+/);
    const alt = (await import('node:child_process')).spawnSync('tmux', ['-L', tmux!.server, 'display-message', '-p', '-t', 'fullscreen', '#{alternate_on}#{cursor_flag}'], { encoding: 'utf8' });
    assert.equal(alt.stdout.trim(), '01', 'not on the alternate screen, cursor shown');
    assert.match(tmux!.capture('fullscreen'), /run such programs with trl exec -t/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('6: several words run in the session shell, each quoted as given: cd and export persist', async () => {
    const s = (await c.call('session.create', {})).session_id;
    const dir = makeTempDir('/tmp/trl-words-');
    fs.mkdirSync(`${dir}/a b`);
    for (const words of [
      ['cd', `${dir}/a b`],
      ['export', 'A=x y'],
    ]) {
      const r = await trl('exec', '-s', s, '--', ...words);
      assert.equal(r.code, 0, `${words.join(' ')}: ${r.stderr}`);
    }
    const r = await trl('exec', '-s', s, '--', 'sh', '-c', 'pwd; echo "$A"');
    assert.equal(r.stdout, `${dir}/a b\nx y\n`);
    // A command line given as one word among others is not split again: the hint says how.
    const odd = await trl('exec', '--', 'echo a; echo b', 'extra');
    assert.equal(odd.code, 127);
    assert.match(odd.stderr, /give the whole line as one word/);
    // --no-shell runs an argv; a missing program is 127 as in shells.
    const argv = await trl('exec', '--no-shell', '--', 'no-such-program-xyz');
    assert.equal(argv.code, 127, argv.stderr);
    await c.call('session.destroy', { session_id: s });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('7: sessions by name or id prefix, commands by id prefix; ambiguous prefixes refused with the candidates; ps shows names and live sessions only', async () => {
    const named = await trl('session', 'create', '--name', 'demo-first-hour');
    assert.equal(named.code, 0, named.stderr);
    const sid = named.stdout.trim();
    assert.equal((await trl('exec', '-s', 'demo-first-hour', '--', 'echo', 'by-name')).stdout, 'by-name\n');
    assert.equal((await trl('exec', '-s', sid.slice(0, 8), '--', 'echo', 'by-prefix')).stdout, 'by-prefix\n');
    const started = (await trl('start', '-s', 'demo-first-hour', '--', 'echo', 'logged')).stdout.trim();
    await c.call('exec.wait', { command_id: started });
    assert.equal((await trl('logs', started.slice(0, 8))).stdout, 'logged\n');
    // Enough commands that two share a first character.
    const ids: string[] = [];
    while (ids.length < 40) ids.push((await c.call('exec.start', { session_id: sid, command: 'true' })).command_id);
    const first = [...'0123456789abcdef'].find((ch) => ids.filter((i) => i.startsWith(ch)).length >= 2)!;
    const amb = await trl('logs', first);
    assert.equal(amb.code, 1);
    assert.match(amb.stderr, new RegExp(`'${first}' matches \\d+ commands`));
    const ps = await trl('ps');
    assert.match(ps.stdout, /demo-first-hour/);
    const info = await trl('session', 'info', 'demo-first-hour', '--json');
    assert.equal(info.code, 0, info.stderr);
    assert.equal(JSON.parse(info.stdout).session_id, sid);
    const updated = await trl('session', 'update', sid.slice(0, 8), '--name', 'demo-renamed', '--json');
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(JSON.parse(updated.stdout).name, 'demo-renamed');
    // A destroyed session's retained commands are not listed.
    const gone = (await c.call('session.create', {})).session_id;
    await c.call('exec.run', { session_id: gone, command: 'echo gone-session-marker' });
    await c.call('session.destroy', { session_id: gone });
    assert.doesNotMatch((await trl('ps')).stdout, /gone-session-marker/);
    const rm = await trl('session', 'rm', 'demo-renamed', '--force');
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, new RegExp(`^${sid} terminated`));
  });

  it('8: error hints name the trl command to run, not a protocol method', async () => {
    const r = await trl('exec', '-s', '6f1d0c2e-0000-4000-8000-000000000000', '--', 'true');
    assert.equal(r.code, 125);
    assert.match(r.stderr, /trl session ls/);
    assert.doesNotMatch(r.stderr, /session\.list|session\.create/);
  });

  it('9: a busy session says which command holds it and how to run beside it; --wait waits for it', async () => {
    const s = (await c.call('session.create', {})).session_id;
    // the holder runs until the test opens its gate: the session is surely busy however slow the CLI is
    const gate = `${d.dir}/busy-gate`;
    const holder = await c.call('exec.stream', { session_id: s, command: `until [ -e ${gate} ]; do sleep 0.05; done; echo held` });
    const busy = await trl('exec', '-s', s, '--', 'true');
    assert.equal(busy.code, 125);
    assert.match(busy.stderr, new RegExp(`running ${holder.command_id.slice(0, 8)} \\(until \\[ -e `));
    assert.match(busy.stderr, /trl start/);
    assert.match(busy.stderr, /--wait/);
    fs.writeFileSync(gate, '');
    const waited = await trl('exec', '-s', s, '--wait', '--', 'echo', 'after');
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout, 'after\n');
    await c.call('session.destroy', { session_id: s, force: true });
  });

  it('10/11: exit codes follow one table; -s is a session everywhere, the signal of kill is --signal', async () => {
    assert.equal((await trl('exec', '--bogus-flag', '--', 'true')).code, 125, 'exec: trl failed');
    assert.equal((await trl('kill', '--bogus-flag', 'x')).code, 2, 'other commands: usage');
    assert.equal((await trl('logs', '--bogus-flag', 'x')).code, 2);
    const nowhere = ['--socket', `${d.dir}/nothing.sock`];
    assert.equal((await runCli(['ping', ...nowhere])).code, 1);
    assert.equal((await runCli(['exec', ...nowhere, '--', 'true'])).code, 125);
    assert.equal((await trl('exec', '--', 'exit 7')).code, 7);
    const id = (await trl('start', '--', 'sleep', '30')).stdout.trim();
    const sig = await trl('kill', '--signal', 'TERM', id.slice(0, 8));
    assert.equal(sig.code, 0, sig.stderr);
    assert.match(sig.stdout, /sent SIGTERM/);
    assert.equal((await trl('kill', '-s', 'TERM', id)).code, 2, 'kill -s is not a signal flag');
  });

  it('13: a cut middle is marked in text, lossy text is flagged, a timeout is exit 124 with the signal named', async () => {
    const cut = await trl('exec', '--json', '--', 'head -c 3000000 /dev/zero | tr "\\0" a; head -c 3000000 /dev/zero | tr "\\0" b');
    const result = JSON.parse(cut.stdout);
    assert.ok(result.stdout_truncated_bytes > 0);
    assert.match(result.stdout, /\n\[trl: \d+ bytes of output left out here/);
    const lossy = JSON.parse((await trl('exec', '--json', '--', "printf 'ok\\377\\n'")).stdout);
    assert.equal(lossy.stdout_invalid_utf8, true);
    assert.equal(lossy.stderr_invalid_utf8, false);
    const clean = JSON.parse((await trl('exec', '--json', '--', 'echo fine')).stdout);
    assert.equal(clean.stdout_invalid_utf8, false);
    const slow = await trl('exec', '--timeout', '1', '--', 'sleep', '30');
    assert.equal(slow.code, 124);
    assert.match(slow.stderr, /timed out/);
    const json = JSON.parse((await trl('exec', '--json', '--timeout', '1', '--', 'sleep', '30')).stdout);
    assert.deepEqual([json.timed_out, json.exit_code, json.signal], [true, 143, 'SIGTERM']);
  });

  it("16: trl shell is an interactive shell with line editing (the user's $SHELL or bash, not dash)", async (t) => {
    if (skipWithoutTmux(t)) return;
    if (!fs.existsSync('/bin/bash')) return t.skip('no bash here');
    const p = await pane('shell');
    p.type(`SHELL=/bin/bash ${trlLine('shell')}`);
    await p.waitFor(/started shell/);
    p.type('echo "shell is $0"');
    await p.waitFor(/shell is \S*bash/);
    p.keys('C-p', 'C-q');
    await p.waitFor('detached');
  });
});
