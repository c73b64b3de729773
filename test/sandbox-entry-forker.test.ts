/**
 * The sandbox's entry forker (src/tiers/sandbox/entry-forker.ts): one
 * resident Perl process of the daemon's that forks each pipe command's entry
 * into its sandbox. A real daemon, real bubblewrap. Which process started a
 * command is read from the host's process table: the forker is the daemon's
 * child running `sub entry{…}`, and a command it started in the sandbox's PID
 * namespace is its own child there, with no entry waiting between them.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { connect, type TrlClient } from './helpers/client.js';
import { startDaemon, type Daemon } from './helpers/daemon.js';
import { allPids, findSleeps, ppidOf, procAlive, procCmdline, readProc, sleepTokens } from './helpers/processes.js';
import { removeWorkspace, tierWorkspace } from './helpers/tiers.js';
import { sha256 } from './helpers/secrets.js';
import { waitFor } from './helpers/wait.js';

/** The daemon's entry forkers: its perl children whose program is the forker's. */
function forkersOf(daemonPid: number): number[] {
  return allPids().filter((p) => ppidOf(p) === daemonPid && procAlive(p) && (procCmdline(p) ?? []).some((a) => a.startsWith('sub entry{')));
}

/** The one forker of the daemon, once it is up. */
async function theForker(daemonPid: number): Promise<number> {
  let found: number[] = [];
  assert.ok(await waitFor(() => (found = forkersOf(daemonPid)).length === 1), `one entry forker, found ${found.length}`);
  return found[0]!;
}

function pidNamespace(pid: number): string | null {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

describe('sandbox entry forker', () => {
  let ws: string;
  let d: Daemon;
  let c: TrlClient;
  let sid: string;
  let skip: string | null = null;
  const sleeps = sleepTokens();
  const root = process.getuid?.() === 0;

  before(async () => {
    ws = tierWorkspace('trl-forker-ws-');
    d = await startDaemon({ flags: ['--tiers', 'host,sandbox', '--runtime', 'sandbox', '--default-working-dir', ws] });
    c = await connect(d);
    const info = (await c.call('system.info', {})) as any;
    if (!info.tiers.sandbox.available) skip = `sandbox tier unavailable: ${info.tiers.sandbox.detail}`;
    if (skip && process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`${skip} (TRL_REQUIRE_TIERS=1)`);
    if (!skip) sid = ((await c.call('session.create', {})) as any).session_id;
  });
  after(async () => {
    c?.close();
    await d?.shutdownClean();
    removeWorkspace(ws);
  });

  const run = async (command: string) => (await c.call('exec.run', { session_id: sid, command, timeout_s: 30 })) as any;

  /** Start `sleep <token>` in the background and wait until it runs: its command id, token and pids. */
  async function startSleep(): Promise<{ id: string; token: number; pids: number[] }> {
    const token = sleeps.token();
    const st = (await c.call('exec.start', { session_id: sid, command: `sleep ${token}` })) as any;
    assert.ok(await waitFor(() => findSleeps(token).length > 0), 'the command runs');
    return { id: st.command_id, token, pids: findSleeps(token) };
  }

  /** Start sleeps until one has gone through the forker (the first commands of a session may take fresh entries while it starts). */
  async function untilForked(): Promise<number> {
    const forker = await theForker(d.pid);
    const ok = await waitFor(async () => {
      const started = await startSleep();
      const direct = started.pids.some((p) => ppidOf(p) === forker || ppidOf(ppidOf(p) ?? -1) === forker);
      await c.call('exec.cancel', { command_id: started.id });
      await c.call('exec.wait', { command_id: started.id, timeout_s: 30 });
      return direct;
    });
    assert.ok(ok, 'no command was ever started by the forker');
    return forker;
  }

  it('starts pipe commands from one resident forker, each straight into the sandbox (no entry waiting beside it)', async (t) => {
    if (skip) return t.skip(skip);
    const forker = await untilForked();
    const st = await startSleep();
    // The command's shell (dash execs its last command: then the sleep itself) is the forker's child.
    const [sleep] = st.pids;
    const shell = ppidOf(sleep!) === forker ? sleep! : ppidOf(sleep!)!;
    assert.equal(ppidOf(shell), forker, `the command's parent is the forker, not an entry: ${(procCmdline(ppidOf(shell)!) ?? []).join(' ').slice(0, 80)}`);
    if (root) {
      assert.notEqual(pidNamespace(shell), pidNamespace(forker), "the command was forked into the sandbox's PID namespace");
      assert.equal(
        readProc(String(forker), 'status')
          ?.match(/^NSpid:\s+(.*)$/m)?.[1]
          ?.trim()
          .split(/\s+/).length,
        1,
        'the forker itself is in no sandbox',
      );
    }
    // What the command sees: nothing of the forker's, its own exit status reported as it ended.
    const fds = await run('ls -l /proc/$$/fd/');
    assert.equal(fds.exit_code, 0, fds.stderr);
    assert.doesNotMatch(fds.stdout, /socket:|signalfd|anon_inode/, `a command holds a descriptor of the forker's:\n${fds.stdout}`);
    const seen = await run('for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done');
    assert.doesNotMatch(seen.stdout, /sub entry/, 'the forker is visible inside the sandbox');
    const caps = await run("grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status");
    assert.match(caps.stdout, /^CapInh:\s+0+\nCapPrm:\s+0+\nCapEff:\s+0+\nCapBnd:\s+0+\nCapAmb:\s+0+\nNoNewPrivs:\s+1\nSeccomp:\s+2\n$/, caps.stdout);
    assert.equal((await run('exit 7')).exit_code, 7);
    const killed = await run('kill -TERM $$');
    assert.equal(killed.signal, 'SIGTERM');
    await c.call('exec.cancel', { command_id: st.id });
    await c.call('exec.wait', { command_id: st.id, timeout_s: 30 });
    assert.equal(((await c.call('exec.info', { command_id: st.id })) as any).state, 'killed');
    assert.equal(forkersOf(d.pid).length, 1, 'still one forker');
    assert.equal(await theForker(d.pid), forker, 'the same one: resident');
  });

  it("keeps a command's environment out of the forker: its own environment, its command line, the daemon's output", async (t) => {
    if (skip) return t.skip(skip);
    const forker = await untilForked();
    const secret = `forker-secret-${process.pid}-${Date.now()}`;
    const r = (await c.call('exec.run', { session_id: sid, command: 'printf %s "$TRL_FORKER_SECRET" | sha256sum | cut -c1-64', env: { TRL_FORKER_SECRET: secret }, timeout_s: 30 })) as any;
    assert.equal(r.exit_code, 0, r.stderr);
    assert.equal(r.stdout, `${sha256(secret)}\n`, 'the command got the value');
    assert.equal(await theForker(d.pid), forker, 'through the same forker');
    for (const file of ['environ', 'cmdline']) assert.doesNotMatch(fs.readFileSync(`/proc/${forker}/${file}`, 'latin1'), new RegExp(secret), `the forker's ${file}`);
    assert.doesNotMatch(d.logs(), new RegExp(secret), "the daemon's stdout and stderr (the forker's stderr too)");
  });

  it('gives a request too large for the forker a fresh entry that runs it the same', async (t) => {
    if (skip) return t.skip(skip);
    await untilForked();
    const filler = 'x'.repeat(100 * 1024);
    const r = await run(`echo start; : '${filler}'; echo "$((6 * 7))"`);
    assert.equal(r.exit_code, 0, r.stderr);
    assert.equal(r.stdout, 'start\n42\n');
  });

  it('survives its forker killed: the command it started is still seen to end, new commands run, a new forker comes', async (t) => {
    if (skip) return t.skip(skip);
    const forker = await untilForked();
    const st = await startSleep();
    process.kill(forker, 'SIGKILL');
    assert.ok(await waitFor(() => !procAlive(forker)), 'the forker is gone');
    // Orphaned, the command runs on, and the daemon still knows it: until it ends.
    const info = (await c.call('exec.info', { command_id: st.id })) as any;
    assert.equal(info.state, 'running', 'a command whose forker died is not reported ended while it runs');
    // Commands do not wait for a new forker.
    assert.equal((await run('echo after')).stdout, 'after\n');
    await c.call('exec.cancel', { command_id: st.id });
    await c.call('exec.wait', { command_id: st.id, timeout_s: 30 });
    assert.equal(((await c.call('exec.info', { command_id: st.id })) as any).state, 'killed', 'the orphaned command is reported ended once it is');
    assert.equal(findSleeps(st.token).length, 0);
    // A new forker, once the retry delay has passed, and commands through it again.
    let next = 0;
    assert.ok(
      await waitFor(async () => {
        await run('true');
        next = forkersOf(d.pid).find((p) => p !== forker) ?? 0;
        return next > 0;
      }),
      'no new forker was started',
    );
    assert.equal(await untilForked(), next);
  });
});
