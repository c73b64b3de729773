/**
 * Issue 15: existing claw-core users switch to trl without changing a line.
 * claw-core's own shipped clients — claw_core_exec.py, claw_core_sessions.py,
 * claw_core_stats.py, claw_status.py and smoke.sh, used in place from the
 * shared peers directory — run unchanged against `trl serve --compat
 * claw-core`, with zsh as the session shell as they ask, on a socket directly
 * in a sticky world-writable directory as claw-core's `/tmp/trl.sock` is.
 * Every response decodes under the wire types of claw-core's Rust client
 * (crates/types.rs), in the compatibility mode and in trl's own.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clawCorePeers, makeStickyDir, python3, runClient, skipWithoutPeers, type Peers } from './helpers/claw-core-peers.js';
import { makeTempDir, REPO_ROOT, startDaemon, type Daemon } from './helpers/daemon.js';
import { assertSleepsGone, killSleeps, uniqueSleep } from './helpers/processes.js';
import { rawCall, rawConnect, type RawConnection } from './helpers/raw-connection.js';
import { decodeProblems, parseStructs, type RustStructs } from './helpers/rust-types.js';

const STAND_IN = path.join(REPO_ROOT, 'dist', 'src', 'compat', 'claw-core-daemon.js');

/** Assert `value` decodes as the Rust struct `type` of claw-core's client crate. */
function assertDecodes(structs: RustStructs, type: string, value: unknown, what: string): void {
  const problems = decodeProblems(structs, type, value);
  assert.deepEqual(problems, [], `${what} does not decode as claw-core's ${type}: ${problems.join('; ')}`);
}

/** A claw-core response: the envelope, then its data as `type` (or its error as RpcError). */
function assertResponse(structs: RustStructs, type: string, line: unknown, what: string): void {
  assertDecodes(structs, 'RpcResponse', line, `${what} (envelope)`);
  const r = line as { ok: boolean; data?: unknown; error?: unknown };
  if (r.ok) assertDecodes(structs, type, r.data, what);
  else assertDecodes(structs, 'RpcError', r.error, `${what} (error)`);
}

/** Requests with claw-core's string ids, each answered on the connection. */
function caller(conn: RawConnection) {
  let n = 0;
  return (method: string, params: Record<string, unknown> = {}) => rawCall(conn, `req-${++n}`, method, params);
}

const peers: Peers = clawCorePeers();

describe('claw-core clients against trl serve --compat claw-core', () => {
  let d: Daemon;
  let sticky: string;
  let work: string;
  let structs: RustStructs;
  const sleeps: number[] = [];

  before(async () => {
    if (peers.missing) return;
    structs = parseStructs(fs.readFileSync(path.join(peers.dir!, 'crates', 'types.rs'), 'utf8'));
    sticky = makeStickyDir();
    work = makeTempDir();
    fs.mkdirSync(path.join(work, 'src'));
    d = await startDaemon({ socketPath: path.join(sticky, 'trl.sock'), flags: ['--compat', 'claw-core'] });
  });

  after(async () => {
    killSleeps(sleeps);
    if (d) await d.shutdownClean();
    for (const dir of [sticky, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('claw_core_stats.py and claw_status.py report the runtime, uptime in whole seconds', async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    const stats = await runClient(peers, 'claw_core_stats.py', [], d.socketPath);
    assert.equal(stats.status, 0, `claw_core_stats.py failed: ${stats.stderr}`);
    assert.match(stats.stdout, /version:\s+\d+\.\d+\.\d+/);
    assert.match(stats.stdout, /uptime_s:\s+\d+\n/, `uptime_s is not a whole number: ${stats.stdout}`);
    const status = await runClient(peers, 'claw_status.py', [], d.socketPath);
    assert.equal(status.status, 0, `claw_status.py failed: ${status.stdout}${status.stderr}`);
    assert.match(status.stdout, /Status:\s+✅ RUNNING/);
    assert.match(status.stdout, /Uptime:\s+\d+s\n/);
  });

  it('claw_core_exec.py forwards stdout, stderr and `exit N` under zsh', async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    const r = await runClient(peers, 'claw_core_exec.py', ['--cwd', work, '--', 'echo "zsh $ZSH_VERSION in $PWD"; echo to-stderr >&2; exit 7'], d.socketPath);
    assert.equal(r.status, 7, `exit N is the client's exit status; stderr: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^zsh \\d[^ ]* in ${work}\\n$`), 'the command ran under zsh, in --cwd');
    assert.equal(r.stderr, 'to-stderr\n');
    const ok = await runClient(peers, 'claw_core_exec.py', ['--', 'true'], d.socketPath, { cwd: work });
    assert.equal(ok.status, 0, ok.stderr);
  });

  it("a timeout prints claw-core's `COMMAND_TIMEOUT command timed out` and exits 2 (claw_core_exec.py) or 4 (claw_core_sessions.py)", async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    const s1 = uniqueSleep();
    const s2 = uniqueSleep();
    sleeps.push(s1, s2);
    const one = await runClient(peers, 'claw_core_exec.py', ['--timeout', '1', '--cwd', work, '--', `echo before; sleep ${s1}`], d.socketPath);
    assert.equal(one.status, 2, `claw_core_exec.py: ${one.stdout}${one.stderr}`);
    assert.match(one.stderr, /^claw_core exec\.run failed: COMMAND_TIMEOUT command timed out/m);
    assert.equal(one.stdout, '', 'claw-core prints nothing of a timed-out command');
    await assertSleepsGone([s1], 'the timed-out command');

    const created = await runClient(peers, 'claw_core_sessions.py', ['create', '--name', 'slow', '--cwd', work], d.socketPath);
    assert.equal(created.status, 0, created.stderr);
    const two = await runClient(peers, 'claw_core_sessions.py', ['run', '--name', 'slow', '--timeout', '1', '--', `sleep ${s2}`], d.socketPath);
    assert.equal(two.status, 4, `claw_core_sessions.py: ${two.stdout}${two.stderr}`);
    assert.match(two.stderr, /^exec\.run failed: COMMAND_TIMEOUT command timed out/m);
    await assertSleepsGone([s2], 'the timed-out command');
    // The session is usable again afterwards.
    const again = await runClient(peers, 'claw_core_sessions.py', ['run', '--name', 'slow', '--', 'echo after'], d.socketPath);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, 'after\n');
  });

  it('the COMMAND_TIMEOUT error carries the output so far in details.result (claw-core never had it)', async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    const s = uniqueSleep();
    sleeps.push(s);
    const conn = await rawConnect(d.socketPath);
    try {
      const call = caller(conn);
      const created = await call('session.create', { shell: '/bin/zsh', working_dir: work });
      const r = await call('exec.run', { session_id: created.data.session_id, command: `echo so-far; sleep ${s}`, timeout_s: 1 });
      assert.equal(r.ok, false);
      assert.equal(r.error?.code, 'COMMAND_TIMEOUT');
      assertResponse(structs, 'ExecRunResult', r, 'the timeout error');
      const result = r.error?.details?.result;
      assert.equal(result?.stdout, 'so-far\n');
      assert.equal(result?.timed_out, true);
      assert.equal(result?.exit_code, -1);
      await call('session.destroy', { session_id: created.data.session_id, force: true });
    } finally {
      conn.close();
    }
  });

  it('`cd src && pwd` twice prints the same directory: each command starts in working_dir with the session env', async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    const created = await runClient(peers, 'claw_core_sessions.py', ['create', '--name', 'build', '--cwd', work], d.socketPath);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`name=build cwd=${work}\\n`));
    for (const round of [1, 2]) {
      const r = await runClient(peers, 'claw_core_sessions.py', ['run', '--name', 'build', '--', 'cd src && pwd'], d.socketPath);
      assert.equal(r.status, 0, `round ${round}: ${r.stderr}`);
      assert.equal(r.stdout, `${work}/src\n`, `round ${round}`);
    }
    const set = await runClient(peers, 'claw_core_sessions.py', ['run', '--name', 'build', '--', 'export CLAW_SET=1'], d.socketPath);
    assert.equal(set.status, 0, set.stderr);
    const read = await runClient(peers, 'claw_core_sessions.py', ['run', '--name', 'build', '--', 'echo ${CLAW_SET-unset}'], d.socketPath);
    assert.equal(read.stdout, 'unset\n', 'an export does not carry over to the next command');
    const list = await runClient(peers, 'claw_core_sessions.py', ['list'], d.socketPath);
    assert.match(list.stdout, new RegExp(`name=build  state=idle  cwd=${work}\\n`), 'the session keeps its working_dir');
    const gone = await runClient(peers, 'claw_core_sessions.py', ['destroy', '--name', 'build'], d.socketPath);
    assert.equal(gone.status, 0, gone.stderr);
  });

  it('duplicate session names are allowed, listed and destroyed one at a time', async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    for (const _ of [1, 2]) {
      const r = await runClient(peers, 'claw_core_sessions.py', ['create', '--name', 'twin', '--cwd', work], d.socketPath);
      assert.equal(r.status, 0, `a second session named twin is refused: ${r.stderr}`);
    }
    const twins = async () => ((await runClient(peers, 'claw_core_sessions.py', ['list'], d.socketPath)).stdout.match(/name=twin /g) ?? []).length;
    assert.equal(await twins(), 2);
    const gone = await runClient(peers, 'claw_core_sessions.py', ['destroy', '--name', 'twin', '--force'], d.socketPath);
    assert.equal(gone.status, 0, gone.stderr);
    assert.equal(await twins(), 1);
    await runClient(peers, 'claw_core_sessions.py', ['destroy', '--name', 'twin', '--force'], d.socketPath);
    assert.equal(await twins(), 0);
  });

  it('a command a signal ends reports exit_code -1 (claw_core_sessions.py exits 255, as with claw-core)', async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    const created = await runClient(peers, 'claw_core_sessions.py', ['create', '--name', 'victim', '--cwd', work], d.socketPath);
    assert.equal(created.status, 0, created.stderr);
    const r = await runClient(peers, 'claw_core_sessions.py', ['run', '--name', 'victim', '--', 'kill -9 $$'], d.socketPath);
    assert.equal(r.status, 255, `sys.exit(-1) is status 255: ${r.stderr}`);
    // An exit status of 128+N that the shell itself reports is no signal death: it stays as it is.
    const shellSays = await runClient(peers, 'claw_core_sessions.py', ['run', '--name', 'victim', '--', 'sh -c "kill -9 \\$\\$"; echo "child $?"'], d.socketPath);
    assert.equal(shellSays.stdout, 'child 137\n');
    assert.equal(shellSays.status, 0);
    await runClient(peers, 'claw_core_sessions.py', ['destroy', '--name', 'victim'], d.socketPath);
  });

  it('any executable is a shell: python3 runs `<shell> -c <command>`', async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    const python = fs.realpathSync(python3());
    const conn = await rawConnect(d.socketPath);
    try {
      const call = caller(conn);
      const created = await call('session.create', { shell: python, working_dir: work });
      assertResponse(structs, 'CreateSessionResult', created, 'session.create with python3');
      assert.equal(created.ok, true, JSON.stringify(created.error));
      const r = await call('exec.run', { session_id: created.data.session_id, command: 'import os, sys; print(os.getcwd()); sys.exit(5)' });
      assertResponse(structs, 'ExecRunResult', r, 'exec.run under python3');
      assert.equal(r.data.stdout, `${work}\n`, r.data.stderr);
      assert.equal(r.data.exit_code, 5);
      await call('session.destroy', { session_id: created.data.session_id });
    } finally {
      conn.close();
    }
  });

  it("a session that names no working_dir starts in /tmp, as claw-core's do", async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    const conn = await rawConnect(d.socketPath);
    try {
      const call = caller(conn);
      const created = await call('session.create', {});
      assert.equal(created.data.working_dir, '/tmp');
      const r = await call('exec.run', { session_id: created.data.session_id, command: 'pwd' });
      assert.equal(r.data.stdout, '/tmp\n');
      await call('session.destroy', { session_id: created.data.session_id });
    } finally {
      conn.close();
    }
  });

  it('smoke.sh, with `cargo run` standing for trl-claw-core, runs its requests and every answer decodes', async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    // smoke.sh starts the daemon with `cargo run -- --socket-path PATH &`: a `cargo` first on PATH starts trl's stand-in instead.
    const bin = makeTempDir();
    try {
      // Its python3 as the interpreter itself, not a version manager's shim (a second per start).
      fs.symlinkSync(python3(), path.join(bin, 'python3'));
      fs.writeFileSync(path.join(bin, 'cargo'), `#!/bin/sh\n[ "$1" = run ] && shift\n[ "$1" = -- ] && shift\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(STAND_IN)} "$@"\n`, {
        mode: 0o755,
      });
      const socket = path.join(sticky, 'trl-smoke.sock');
      const smoke = () =>
        runClient(peers, 'smoke.sh', [socket], '', {
          cwd: bin,
          env: { PATH: `${bin}:${process.env.PATH ?? ''}`, TRL_ALLOW_ROOT: '1', TRL_TIERS: 'host', TRL_LOG_LEVEL: 'warn' },
        });
      let r = await smoke();
      if (r.status !== 0 && /^(FileNotFoundError|ConnectionRefusedError)/m.test(r.stderr) && !r.stdout.includes('{')) {
        // smoke.sh gives the daemon 4 s to make its socket, then sends anyway: a loaded machine can take longer to start node.
        t.diagnostic('smoke.sh sent its first request before the daemon listened (its own 4 s wait); running it once more');
        r = await smoke();
      }
      assert.equal(r.status, 0, `smoke.sh failed: ${r.stdout}${r.stderr}`);
      const answers = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { ok: boolean; data: any });
      assert.equal(answers.length, 4, r.stdout);
      const types = ['PingResult', 'CreateSessionResult', 'ExecRunResult', 'DestroySessionResult'];
      answers.forEach((a, i) => {
        assert.equal(a.ok, true, JSON.stringify(a));
        assertResponse(structs, types[i]!, a, `smoke.sh answer ${i + 1}`);
      });
      assert.equal(answers[2]!.data.stdout, 'smoke-ok\n');
      assert.equal(answers[3]!.data.state, 'terminated');
      assert.equal(fs.existsSync(socket), false, 'smoke.sh stopped the daemon, which removed its socket');
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  it("every answer decodes under claw-core's client types (compat mode)", async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    await assertEveryAnswerDecodes(d, structs, work);
  });
});

describe("trl's own mode: every field claw-core types as an integer is one", () => {
  let d: Daemon;
  let work: string;

  before(async () => {
    if (peers.missing) return;
    work = makeTempDir();
    fs.mkdirSync(path.join(work, 'src'));
    d = await startDaemon();
  });

  after(async () => {
    if (d) await d.shutdownClean();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('ping, stats, sessions and exec.run decode under crates/types.rs', async (t) => {
    if (skipWithoutPeers(t, peers)) return;
    const structs = parseStructs(fs.readFileSync(path.join(peers.dir!, 'crates', 'types.rs'), 'utf8'));
    await assertEveryAnswerDecodes(d, structs, work);
  });
});

/** Every method claw-core has, called as its clients call it; each answer decoded as its Rust client types it. */
async function assertEveryAnswerDecodes(d: Daemon, structs: RustStructs, work: string): Promise<void> {
  const conn = await rawConnect(d.socketPath);
  try {
    const call = caller(conn);
    assertResponse(structs, 'PingResult', await call('system.ping'), 'system.ping');
    const created = await call('session.create', { shell: '/bin/zsh', working_dir: work, name: 'decode', timeout_s: 30, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    assertResponse(structs, 'CreateSessionResult', created, 'session.create');
    const id = created.data.session_id as string;
    // A command that takes a while has a duration of many milliseconds: an integer, not 250.123.
    const ran = await call('exec.run', { session_id: id, command: 'sleep 0.25; echo out; echo err >&2; exit 3', stdin: '', env: { X: '1' } });
    assertResponse(structs, 'ExecRunResult', ran, 'exec.run');
    assert.equal(ran.data.exit_code, 3);
    assert.ok(ran.data.duration_ms >= 250, `duration_ms ${ran.data.duration_ms}`);
    const stats = await call('system.stats');
    assertResponse(structs, 'SystemStats', stats, 'system.stats');
    assert.ok(stats.data.total_commands_run >= 1);
    const info = await call('session.info', { session_id: id });
    assertResponse(structs, 'SessionInfo', info, 'session.info');
    assert.equal(info.data.timeout_s, 30);
    const list = await call('session.list');
    assertResponse(structs, 'SessionListResult', list, 'session.list');
    for (const s of list.data.sessions) assertDecodes(structs, 'SessionInfo', s, 'a session.list entry');
    const missing = await call('session.info', { session_id: 's-nothere' });
    assert.equal(missing.error?.code, 'SESSION_NOT_FOUND');
    assertResponse(structs, 'SessionInfo', missing, 'session.info of no session');
    const destroyed = await call('session.destroy', { session_id: id, force: true });
    assertResponse(structs, 'DestroySessionResult', destroyed, 'session.destroy');
  } finally {
    conn.close();
  }
}
