/**
 * The sandbox tier's warm pool (docs/security.md, the sandbox's warm pool):
 * started sandboxes for sessions in the default workspace. A real daemon,
 * real bubblewrap. Which sandbox a session got is read from the process
 * table: the daemon's bwrap children and their pid 1s, against the session's
 * sandbox_pid.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type TrlClient } from './helpers/client.js';
import { makeTempDir, startDaemon, type Daemon } from './helpers/daemon.js';
import { allPids, ppidOf, procAlive, procCmdline, readProc } from './helpers/processes.js';
import { procTag } from './helpers/process-tags.js';
import { sandboxTag } from '../src/tiers/sandbox/sandbox.js';
import { removeWorkspace, tierWorkspace, WORKSPACE_UID } from './helpers/tiers.js';
import { waitFor } from './helpers/wait.js';

const POOL = 2;

/** The daemon's bubblewrap processes (one per sandbox, warm or a session's). */
function bwrapsOf(daemonPid: number): number[] {
  return allPids().filter((p) => ppidOf(p) === daemonPid && procAlive(p) && path.basename(procCmdline(p)?.[0] ?? '') === 'bwrap');
}

/** The pid 1s of the daemon's sandboxes (what session.info calls sandbox_pid). */
function sandboxesOf(daemonPid: number): number[] {
  const holders = new Set(bwrapsOf(daemonPid));
  return allPids().filter((p) => holders.has(ppidOf(p) ?? -1) && procAlive(p));
}

/** Sandboxes of the daemon that no session owns: the warm ones. */
async function warmOf(d: Daemon, c: TrlClient): Promise<number[]> {
  const list = (await c.call('session.list', {})) as any;
  const owned = new Set<number>();
  for (const s of list.sessions) {
    const info = (await c.call('session.info', { session_id: s.session_id })) as any;
    owned.add(Number(info.isolation.detail.sandbox_pid));
  }
  return sandboxesOf(d.pid).filter((p) => !owned.has(p));
}

/**
 * Whether a sandbox's pid 1 is its holder (bubblewrap execs it, `perl`, as pid 1 once it has built the mounts and
 * bound it and its monitor to the daemon: --die-with-parent is set only once the namespaces exist). A pid 1 that is
 * still bubblewrap is a sandbox still starting.
 */
function holderUp(pid1: number): boolean {
  return procAlive(pid1) && path.basename(procCmdline(pid1)?.[0] ?? '') === 'perl';
}

/** Wait until exactly `n` warm sandboxes are up, each started (holderUp); their pids. */
async function untilWarm(d: Daemon, c: TrlClient, n: number): Promise<number[]> {
  let warm: number[] = [];
  const ok = await waitFor(async () => (warm = await warmOf(d, c)).length === n && warm.every(holderUp));
  assert.ok(ok, `${n} warm sandboxes were never up (now ${warm.length}, started ${warm.filter(holderUp).length})`);
  return warm;
}

/** What each live process of `pids` is, for a failure message: state, parent, wait channel, pending signals, command. */
function survivors(pids: number[]): string {
  return pids
    .filter((p) => procAlive(p))
    .map((p) => {
      const status = readProc(String(p), 'status') ?? '';
      const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '?';
      return `pid ${p} state ${field('State')} ppid ${field('PPid')} wchan ${readProc(String(p), 'wchan') || '?'} pending ${field('ShdPnd')}/${field('SigPnd')} blocked ${field('SigBlk')} [${(procCmdline(p) ?? []).join(' ').slice(0, 120)}]`;
    })
    .join('; ');
}

function own(dir: string): void {
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', `${WORKSPACE_UID}:${WORKSPACE_UID}`, dir]);
}

/** Everything a command sees of its sandbox that a warm one could get wrong (`home`: the daemon's, with a secret store). */
const probe = (home: string) =>
  [
    'id',
    'hostname',
    'pwd',
    'echo "env=$PROBE_ENV"',
    'ls -a /tmp',
    'ls -a .',
    "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status",
    "cut -d' ' -f5,6 /proc/self/mountinfo | sort",
    "cut -d: -f1 /proc/net/dev | tr -d ' '",
    `cat ${home}/.ssh/id 2>&1 | head -c 200; echo`,
    'echo x > /usr/trl-probe 2>&1; echo "usr=$?"',
    'echo x > .bashrc 2>&1; echo "rc=$?"',
    'mkdir .git/hooks 2>&1; echo "git=$?"',
  ].join('; ');

describe('sandbox warm pool', () => {
  let home: string;
  let ws: string;
  let d: Daemon;
  let c: TrlClient;
  let skip: string | null = null;
  const secret = `KEY-${process.pid}`;

  before(async () => {
    home = makeTempDir('/tmp/trl-sbpool-home-');
    fs.chmodSync(home, 0o755);
    fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    fs.writeFileSync(path.join(home, '.ssh', 'id'), `${secret}\n`);
    ws = tierWorkspace('trl-sbpool-ws-');
    d = await startDaemon({
      flags: ['--tiers', 'host,sandbox', '--runtime', 'sandbox', '--default-working-dir', ws, '--sandbox-warm-pool', String(POOL)],
      env: { HOME: home },
    });
    c = await connect(d);
    const info = (await c.call('system.info', {})) as any;
    if (!info.tiers.sandbox.available) skip = `sandbox tier unavailable: ${info.tiers.sandbox.detail}`;
    if (skip && process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`${skip} (TRL_REQUIRE_TIERS=1)`);
  });
  after(async () => {
    c?.close();
    await d?.shutdownClean();
    fs.rmSync(home, { recursive: true, force: true });
    removeWorkspace(ws);
    removeWorkspace(`${ws}.old`);
    removeWorkspace(`${ws}.real`);
  });

  const create = async (extra: Record<string, unknown> = {}) => (await c.call('session.create', extra)) as any;
  const destroy = (session_id: string) => c.call('session.destroy', { session_id });
  const run = async (session_id: string, command: string) => (await c.call('exec.run', { session_id, command, timeout_s: 30 })) as any;

  it('is filled after the first session in the default workspace, whose sandbox is new', async (t) => {
    if (skip) return t.skip(skip);
    assert.deepEqual(sandboxesOf(d.pid), [], 'no sandbox before any session: the pool fills lazily');
    const first = await create();
    assert.equal(first.runtime, 'sandbox');
    await untilWarm(d, c, POOL);
    await destroy(first.session_id);
    assert.ok(await waitFor(() => !procAlive(Number(first.isolation.detail.sandbox_pid))), "the session's sandbox went with it");
  });

  it('hands a session a warm sandbox that behaves and reports as a new one', async (t) => {
    if (skip) return t.skip(skip);
    const warm = await untilWarm(d, c, POOL);
    const hot = await create({ env: { PROBE_ENV: 'given' } });
    assert.ok(warm.includes(Number(hot.isolation.detail.sandbox_pid)), `sandbox ${hot.isolation.detail.sandbox_pid} is one of the warm ${warm.join(',')}`);
    // A new one, beside it: the pool is for the default workspace only.
    const other = tierWorkspace('trl-sbpool-other-');
    const existing = new Set(sandboxesOf(d.pid));
    const cold = await create({ env: { PROBE_ENV: 'given' }, workspace: other });
    assert.ok(!existing.has(Number(cold.isolation.detail.sandbox_pid)), 'a session in another workspace gets a new sandbox');
    try {
      // The same commands see the same sandbox, the workspace aside (its path and its files).
      const [h, k] = [await run(hot.session_id, probe(home)), await run(cold.session_id, probe(home))];
      assert.equal(h.exit_code, 0, h.stderr);
      // Paths on the way to a workspace are made in the sandbox's /tmp: the workspace's name shows there too.
      const same = (out: string, dir: string) => out.replaceAll(dir, 'WS').replaceAll(path.basename(dir), 'WS');
      assert.equal(same(h.stdout, ws), same(k.stdout, other), 'warm and new sandboxes differ');
      assert.match(h.stdout, /env=given/);
      assert.doesNotMatch(h.stdout, new RegExp(secret), 'the secret store is hidden in the warm sandbox');
      assert.match(h.stdout, /usr=[1-9]/);
      assert.match(h.stdout, /rc=[1-9]/);
      assert.match(h.stdout, /git=[1-9]/);
      // State between commands, and isolation from the session that came before it.
      await run(hot.session_id, 'mkdir -p sub && cd sub && export KEPT=yes && echo made > /tmp/mine');
      const st = await run(hot.session_id, 'echo "$KEPT $(pwd)"; cat /tmp/mine');
      assert.equal(st.stdout, `yes ${ws}/sub\nmade\n`);
      assert.equal((await run(cold.session_id, 'cat /tmp/mine 2>&1; echo "$?"')).stdout.trim().split('\n').pop(), '1', "one sandbox's /tmp is not another's");
      // session.info of a session with a warm sandbox is that of one with a new sandbox (after the same commands),
      // but for its ids, times, usage and workspace.
      const infoOf = async (id: string, workspace: string) => {
        const i = (await c.call('session.info', { session_id: id })) as any;
        const fixed = { ...i, session_id: 'ID', created_at: 'T', last_activity: 'T', usage: 'U', isolation: { ...i.isolation, detail: { ...i.isolation.detail, sandbox_pid: 'P' } } };
        return JSON.parse(JSON.stringify(fixed).replaceAll(workspace, 'WS'));
      };
      await run(cold.session_id, 'mkdir -p sub && cd sub && export KEPT=yes');
      assert.deepEqual(await infoOf(hot.session_id, ws), await infoOf(cold.session_id, other));
    } finally {
      await destroy(hot.session_id);
      await destroy(cold.session_id);
      removeWorkspace(other);
    }
  });

  it('keeps its size: every sandbox a session took is gone after its destroy, the pool refills to exactly its size', async (t) => {
    if (skip) return t.skip(skip);
    const taken: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await create();
      taken.push(Number(s.isolation.detail.sandbox_pid));
      assert.equal((await run(s.session_id, 'echo ok')).stdout, 'ok\n');
      await destroy(s.session_id);
    }
    // A killed pid 1 takes its namespace down with it: gone soon after the destroy, not at once.
    assert.ok(await waitFor(() => taken.every((p) => !procAlive(p))), `destroyed sessions left their sandboxes: ${taken.filter((p) => procAlive(p)).join(',')}`);
    await untilWarm(d, c, POOL);
    assert.equal(bwrapsOf(d.pid).length, POOL, 'one bubblewrap per warm sandbox, none more');
  });

  it('never hands out a warm sandbox whose workspace was swapped for another directory after it started', async (t) => {
    if (skip) return t.skip(skip);
    const warm = await untilWarm(d, c, POOL);
    fs.renameSync(ws, `${ws}.old`);
    fs.mkdirSync(ws, { mode: 0o755 });
    own(ws);
    for (let i = 0; i < POOL; i++) {
      const s = await create();
      const pid = Number(s.isolation.detail.sandbox_pid);
      assert.ok(!warm.includes(pid), `session ${i} got warm sandbox ${pid}, started on the directory swapped away`);
      assert.equal((await run(s.session_id, `echo swapped${i} > f${i}`)).exit_code, 0);
      await destroy(s.session_id);
      assert.equal(fs.readFileSync(path.join(ws, `f${i}`), 'utf8'), `swapped${i}\n`, 'the session wrote the directory now at the path');
      assert.equal(fs.existsSync(path.join(`${ws}.old`, `f${i}`)), false, 'nothing reached the directory swapped away');
    }
    assert.ok(await waitFor(() => warm.every((p) => !procAlive(p))), 'the stale warm sandboxes were killed');
  });

  it('never hands out a warm sandbox when the default workspace became a symlink after it started', async (t) => {
    if (skip) return t.skip(skip);
    const warm = await untilWarm(d, c, POOL);
    fs.renameSync(ws, `${ws}.real`);
    fs.symlinkSync(`${ws}.real`, ws);
    try {
      const s = await create();
      assert.ok(!warm.includes(Number(s.isolation.detail.sandbox_pid)), 'a warm sandbox of the path served a workspace that now resolves elsewhere');
      assert.equal((await run(s.session_id, 'pwd')).stdout, `${ws}.real\n`, 'the session is at the resolved path');
      await destroy(s.session_id);
    } finally {
      fs.unlinkSync(ws);
      fs.renameSync(`${ws}.real`, ws);
    }
  });

  it('never hands out a warm sandbox after a guarded or hidden path appeared or the workspace owner changed: the new one guards, hides, runs as the owner', async (t) => {
    if (skip) return t.skip(skip);
    // A new session of the restored workspace refills the pool with sandboxes of it.
    await destroy((await create()).session_id);
    let warm = await untilWarm(d, c, POOL);
    fs.mkdirSync(path.join(ws, '.vscode'));
    fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), '{}\n');
    own(ws);
    const guarded = await create();
    assert.ok(!warm.includes(Number(guarded.isolation.detail.sandbox_pid)), 'a warm sandbox without the .vscode guard was handed out');
    const w = await run(guarded.session_id, 'echo evil > .vscode/settings.json 2>&1; echo "exit=$?"');
    assert.doesNotMatch(w.stdout, /exit=0$/m, w.stdout);
    await destroy(guarded.session_id);
    assert.equal(fs.readFileSync(path.join(ws, '.vscode', 'settings.json'), 'utf8'), '{}\n');

    // A credential store that appears in the home after the pool started is hidden in the sandbox the session gets.
    await destroy((await create()).session_id);
    warm = await untilWarm(d, c, POOL);
    fs.mkdirSync(path.join(home, '.aws'));
    fs.writeFileSync(path.join(home, '.aws', 'credentials'), `${secret}\n`);
    fs.chmodSync(path.join(home, '.aws', 'credentials'), 0o644);
    const hidden = await create();
    assert.ok(!warm.includes(Number(hidden.isolation.detail.sandbox_pid)), 'a warm sandbox that does not hide the new ~/.aws was handed out');
    const r = await run(hidden.session_id, 'cat "$HOME/.aws/credentials" 2>&1; echo "exit=$?"');
    assert.doesNotMatch(r.stdout, new RegExp(secret), r.stdout);
    await destroy(hidden.session_id);

    // Under a root daemon commands run as the workspace's owner: a warm sandbox of the previous owner is not handed out.
    if (process.getuid?.() !== 0) return;
    await destroy((await create()).session_id);
    warm = await untilWarm(d, c, POOL);
    const uid = WORKSPACE_UID + 1;
    fs.chownSync(ws, uid, uid);
    try {
      const owned = await create();
      assert.ok(!warm.includes(Number(owned.isolation.detail.sandbox_pid)), "a warm sandbox of the workspace's previous owner was handed out");
      assert.equal((await run(owned.session_id, 'id -u')).stdout, `${uid}\n`);
      assert.equal(owned.isolation.detail.user, `${uid}:${uid}`);
      await destroy(owned.session_id);
    } finally {
      fs.chownSync(ws, WORKSPACE_UID, WORKSPACE_UID);
    }
  });
});

describe('sandbox warm pool: off, shutdown and crash', () => {
  let ws: string;
  /** The workspace's entries before any daemon. */
  let seen: string[];
  const daemons: Daemon[] = [];
  const flags = (pool: number) => ['--tiers', 'host,sandbox', '--runtime', 'sandbox', '--default-working-dir', ws, '--sandbox-warm-pool', String(pool)];

  const start = async (pool: number) => {
    const d = await startDaemon({ flags: flags(pool) });
    daemons.push(d);
    const c = await connect(d);
    const info = (await c.call('system.info', {})) as any;
    return { d, c, skip: info.tiers.sandbox.available ? null : `sandbox tier unavailable: ${info.tiers.sandbox.detail}` };
  };

  before(() => {
    ws = tierWorkspace('trl-sbpool-life-');
    seen = fs.readdirSync(ws).sort();
  });
  after(async () => {
    for (const d of daemons) await d.dispose();
    if (ws) removeWorkspace(ws);
  });

  it('with --sandbox-warm-pool 0 keeps no sandbox, and sessions work', async (t) => {
    const { d, c, skip } = await start(0);
    try {
      if (skip) return t.skip(skip);
      for (let i = 0; i < 2; i++) {
        const s = (await c.call('session.create', {})) as any;
        assert.equal(((await c.call('exec.run', { session_id: s.session_id, command: `echo ${i}` })) as any).stdout, `${i}\n`);
        assert.deepEqual(sandboxesOf(d.pid), [Number(s.isolation.detail.sandbox_pid)], 'the session has the one sandbox');
        await c.call('session.destroy', { session_id: s.session_id });
        assert.deepEqual(bwrapsOf(d.pid), [], 'no sandbox is kept');
      }
      const info = (await c.call('system.info', {})) as any;
      assert.doesNotMatch(info.tiers.sandbox.detail, /warm/);
      assert.deepEqual(fs.readdirSync(ws).sort(), seen, 'no ghost is left in the workspace');
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });

  it('kills its sandboxes and removes their ghosts at shutdown', async (t) => {
    const { d, c, skip } = await start(POOL);
    try {
      if (skip) return t.skip(skip);
      assert.match(((await c.call('system.info', {})) as any).tiers.sandbox.detail, new RegExp(`${POOL} warm`));
      await c.call('session.destroy', { session_id: ((await c.call('session.create', {})) as any).session_id });
      const warm = await untilWarm(d, c, POOL);
      const holders = bwrapsOf(d.pid);
      assert.notDeepEqual(fs.readdirSync(ws).sort(), seen, 'warm sandboxes hold their ghosts in the workspace');
      c.close();
      await d.shutdownClean();
      assert.deepEqual(
        [...warm, ...holders].filter((p) => procAlive(p)),
        [],
        'a warm sandbox outlived the daemon',
      );
      assert.deepEqual(fs.readdirSync(ws).sort(), seen, 'ghosts were left in the workspace');
    } finally {
      c.close();
    }
  });

  it("tags every process of a sandbox with its daemon's instance, not a session's", async (t) => {
    const { d, c, skip } = await start(POOL);
    try {
      if (skip) return t.skip(skip);
      const instance = ((await c.call('system.info', {})) as any).instance_id as string;
      await c.call('session.destroy', { session_id: ((await c.call('session.create', {})) as any).session_id });
      const warm = await untilWarm(d, c, POOL);
      const procs = [...bwrapsOf(d.pid), ...warm, ...allPids().filter((p) => warm.includes(ppidOf(p) ?? -1))];
      assert.ok(procs.length >= 2 * POOL, `bubblewrap's monitor and pid 1 (the holder) of each sandbox: ${procs.join(',')}`);
      for (const p of procs) assert.equal(procTag(p), sandboxTag(instance), `process ${p} (${procCmdline(p)?.join(' ')}) carries the instance's sandbox tag`);
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });

  it('leaves nothing after the daemon is SIGKILLed: warm sandboxes die with it, the next daemon removes their ghosts and reaps a sandbox that outlived it', async (t) => {
    const { d, c, skip } = await start(POOL);
    if (skip) {
      c.close();
      return t.skip(skip);
    }
    const instance = ((await c.call('system.info', {})) as any).instance_id as string;
    await c.call('session.destroy', { session_id: ((await c.call('session.create', {})) as any).session_id });
    const warm = await untilWarm(d, c, POOL);
    const holders = bwrapsOf(d.pid);
    // What a sandbox starting at the kill leaves (bubblewrap not yet bound to the daemon): a process with the sandbox tag.
    const outlived = spawn('sleep', ['2147483647'], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH, __TRL_TAG: sandboxTag(instance) } });
    outlived.unref();
    c.close();
    d.proc.kill('SIGKILL');
    await d.exited;
    assert.ok(await waitFor(() => [...warm, ...holders].every((p) => !procAlive(p))), `a warm sandbox outlived its SIGKILLed daemon: ${survivors([...warm, ...holders])}`);
    const next = await start(0);
    try {
      assert.ok(await waitFor(() => fs.readdirSync(ws).sort().join() === seen.join()), `the next daemon left the ghosts: ${fs.readdirSync(ws).join(',')}`);
      // (Any daemon starting meanwhile, another test's, may be the one that reaps it.)
      assert.ok(await waitFor(() => !procAlive(outlived.pid!)), "the next daemon did not reap a process with the dead instance's sandbox tag");
    } finally {
      outlived.kill('SIGKILL');
      next.c.close();
      await next.d.shutdownClean();
    }
  });
});
