/**
 * Per-session limits (PROTOCOL §5 `limits`, docs/security.md, limits): a session may only
 * lower the daemon's maxima; what it asks for is enforced — per process
 * through rlimits (CPU seconds, open files), per session through its cgroup
 * (memory with swap capped, CPU share, process count) — and the offending
 * command is killed, never the session or the daemon.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupSkip, readFileOrNull, sessionCgroupDirs } from './helpers/cgroups.js';
import { anyCall, connect, expectCode, type TrlClient } from './helpers/client.js';
import { startDaemon } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { sessionTagOf, taggedProcs } from './helpers/process-tags.js';
import { killPids, procCpuSeconds } from './helpers/processes.js';
import { waitFor } from './helpers/wait.js';

const MIB = 1024 * 1024;
/** A memory hog's timeout: it ends in about a second on a quiet machine; the tests are about the kill, not its speed. */
const HOG_TIMEOUT_S = 300;

/** The daemon maxima of the first suite, and a value just above each. */
const MAXIMA = {
  memory_bytes: { flag: '--max-memory-bytes', env: 'TRL_MAX_MEMORY_BYTES', max: 512 * MIB, above: 512 * MIB + 1 },
  pids: { flag: '--max-pids', env: 'TRL_MAX_PIDS', max: 100, above: 101 },
  cpu_percent: { flag: '--max-cpu-percent', env: 'TRL_MAX_CPU_PERCENT', max: 150, above: 150.5 },
  cpu_s: { flag: '--max-cpu-s', env: 'TRL_MAX_CPU_S', max: 30, above: 31 },
  nofile: { flag: '--max-nofile', env: 'TRL_MAX_NOFILE', max: 1024, above: 1025 },
  max_output_bytes: { flag: '--max-output-bytes', env: 'TRL_MAX_OUTPUT_BYTES', max: MIB, above: MIB + 1 },
} as const;
type LimitKey = keyof typeof MAXIMA;
const LIMIT_KEYS = Object.keys(MAXIMA) as LimitKey[];

function hasPython(): boolean {
  try {
    execFileSync('python3', ['-c', 'pass'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** This process's hard RLIMIT_NOFILE (what the daemon, its child, can raise a command's limit to). */
function hardNofile(): number {
  const line = (readFileOrNull('/proc/self/limits') ?? '').split('\n').find((l) => l.startsWith('Max open files'));
  const hard = line?.trim().split(/\s+/)[4];
  return hard === undefined || hard === 'unlimited' ? 1_048_576 : Number(hard);
}

async function assertMaximaEnforced(c: TrlClient, how: string): Promise<void> {
  const before = (await anyCall(c, 'session.list')).sessions.length;
  for (const key of LIMIT_KEYS) {
    const { max, above } = MAXIMA[key];
    const e = await expectCode(c, 'session.create', { limits: { [key]: above } }, 'INVALID_PARAMS');
    assert.ok(e.message.includes(String(max)), `${how}: limits.${key} = ${above} refused, but the message does not name the maximum ${max}: ${e.message}`);
    assert.ok(e.message.includes(key), `${how}: the message does not name limits.${key}: ${e.message}`);
    // the maximum itself is allowed, and is what the session reports
    const s = await anyCall(c, 'session.create', { limits: { [key]: max } });
    assert.equal(s.limits[key], max, `${how}: session.limits.${key} = ${s.limits[key]}, asked for ${max}`);
    const r = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'echo ok' });
    assert.equal(r.stdout, 'ok\n', `${how}: a session at the maximum limits.${key} cannot run echo: ${JSON.stringify(r)}`);
    await anyCall(c, 'session.destroy', { session_id: s.session_id, force: true });
  }
  // all at once, each at its maximum, is fine too; one over spoils the lot
  const all = Object.fromEntries(LIMIT_KEYS.map((k) => [k, MAXIMA[k].max]));
  const s = await anyCall(c, 'session.create', { limits: all });
  await anyCall(c, 'session.destroy', { session_id: s.session_id, force: true });
  await expectCode(c, 'session.create', { limits: { ...all, pids: MAXIMA.pids.above } }, 'INVALID_PARAMS');
  assert.equal((await anyCall(c, 'session.list')).sessions.length, before, `${how}: a refused session.create left a session behind`);
}

describe('limits: the daemon maxima', () => {
  it('each limit above its --max-* flag is refused with INVALID_PARAMS naming the maximum; at the maximum it is accepted', async () => {
    const flags = LIMIT_KEYS.flatMap((k) => [MAXIMA[k].flag, String(MAXIMA[k].max)]);
    const d = await startDaemon({ flags });
    const c = await connect(d);
    try {
      await assertMaximaEnforced(c, 'flags');
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });

  it('system.info shows the maxima in force (PROTOCOL §4: the limits in force, numbers only)', async () => {
    const flags = LIMIT_KEYS.flatMap((k) => [MAXIMA[k].flag, String(MAXIMA[k].max)]);
    const d = await startDaemon({ flags });
    const c = await connect(d);
    try {
      const info = await anyCall(c, 'system.info');
      const values = Object.values(info.limits as Record<string, number>);
      for (const k of LIMIT_KEYS) {
        assert.ok(values.includes(MAXIMA[k].max), `system.info.limits does not show the maximum of ${k} (${MAXIMA[k].max}): ${JSON.stringify(info.limits)}`);
      }
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });

  it('the same maxima from TRL_MAX_* environment variables', async () => {
    const env = Object.fromEntries(LIMIT_KEYS.map((k) => [MAXIMA[k].env, String(MAXIMA[k].max)]));
    const d = await startDaemon({ env });
    const c = await connect(d);
    try {
      await assertMaximaEnforced(c, 'env');
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });

  it('without maxima (unset = no maximum) large limits are accepted and commands run', async () => {
    const d = await startDaemon();
    const c = await connect(d);
    try {
      // nofile: as high as this machine lets a process go (the hard limit here), not higher
      const nofile = Math.min(65_536, hardNofile());
      const big = { memory_bytes: 2 ** 40, pids: 100_000, cpu_percent: 400, cpu_s: 100_000, nofile };
      const s = await anyCall(c, 'session.create', { limits: big });
      for (const [k, v] of Object.entries(big)) assert.equal(s.limits[k], v, `limits.${k}`);
      const r = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'echo ok; ulimit -n' });
      assert.equal(r.stdout, `ok\n${nofile}\n`, JSON.stringify(r));
      await anyCall(c, 'session.destroy', { session_id: s.session_id });
      // but the output cap always has a maximum (4 MiB by default)
      const e = await expectCode(c, 'session.create', { limits: { max_output_bytes: 4 * MIB + 1 } }, 'INVALID_PARAMS');
      assert.ok(e.message.includes(String(4 * MIB)), e.message);
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });

  it('limits that are not positive numbers, or unknown limit names, are refused', async () => {
    const d = await startDaemon();
    const c = await connect(d);
    try {
      for (const key of LIMIT_KEYS) {
        for (const bad of [0, -1, 'ten', null]) {
          const e = await expectCode(c, 'session.create', { limits: { [key]: bad } }, 'INVALID_PARAMS');
          assert.ok(e.message.includes(key), `limits.${key} = ${JSON.stringify(bad)}: ${e.message}`);
        }
      }
      const e = await expectCode(c, 'session.create', { limits: { memory: 1000 } }, 'INVALID_PARAMS');
      assert.ok(e.message.includes('memory'), e.message);
      assert.equal((await anyCall(c, 'session.list')).sessions.length, 0);
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });
});

describe('limits: per-process rlimits (cpu_s, nofile)', () => {
  const { c } = useDaemon({ flags: ['--kill-grace-s', '1'] });

  it("nofile: the session's commands see RLIMIT_NOFILE and cannot open more files", async () => {
    const s = await anyCall(c, 'session.create', { limits: { nofile: 64 } });
    const r = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'ulimit -n' });
    assert.equal(r.stdout, '64\n');
    if (hasPython()) {
      const r2 = await anyCall(c, 'exec.run', {
        session_id: s.session_id,
        command: `python3 -c "import os; fds=[os.open('/dev/null', os.O_RDONLY) for _ in range(200)]; print(len(fds))"`,
      });
      assert.notEqual(r2.exit_code, 0, `opening 200 files under nofile 64 succeeded: ${JSON.stringify(r2)}`);
      assert.match(r2.stderr, /Too many open files/);
    }
    // background commands get it too
    const st = await anyCall(c, 'exec.start', { session_id: s.session_id, command: 'ulimit -n' });
    const w = await anyCall(c, 'exec.wait', { command_id: st.command_id });
    assert.equal(w.stdout, '64\n');
    await anyCall(c, 'session.destroy', { session_id: s.session_id });
  });

  it('cpu_s: 2 kills a CPU spinner by SIGXCPU or SIGKILL (not its 30 s timeout); the session survives', async () => {
    const s = await anyCall(c, 'session.create', { limits: { cpu_s: 2 } });
    const lim = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'ulimit -t' });
    assert.equal(lim.stdout, '2\n');
    const t0 = Date.now();
    const r = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'while :; do :; done', timeout_s: 30 });
    const wall = Date.now() - t0;
    assert.equal(r.timed_out, false, `the spinner ran into the 30 s timeout instead of its CPU limit: ${JSON.stringify(r)}`);
    assert.ok(
      r.signal === 'SIGXCPU' || r.signal === 'SIGKILL' || r.exit_code === 128 + 24 || r.exit_code === 137,
      `the spinner did not die by SIGXCPU/SIGKILL: exit_code ${r.exit_code}, signal ${r.signal}`,
    );
    assert.ok(wall >= 1500, `the spinner died after ${wall} ms, before it could use 2 CPU seconds`);
    const next = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'echo alive' });
    assert.equal(next.stdout, 'alive\n');
    await anyCall(c, 'session.destroy', { session_id: s.session_id });
  });

  it('a limit does not leak into other sessions', async () => {
    const limited = await anyCall(c, 'session.create', { limits: { nofile: 50, cpu_s: 7 } });
    const free = await anyCall(c, 'session.create', {});
    const a = await anyCall(c, 'exec.run', { session_id: limited.session_id, command: 'ulimit -n; ulimit -t' });
    const b = await anyCall(c, 'exec.run', { session_id: free.session_id, command: 'ulimit -n; ulimit -t' });
    assert.equal(a.stdout, '50\n7\n');
    assert.notEqual(b.stdout.split('\n')[0], '50');
    assert.equal(b.stdout.split('\n')[1], 'unlimited');
    for (const s of [limited, free]) await anyCall(c, 'session.destroy', { session_id: s.session_id });
  });
});

describe('limits: per-session cgroups (memory, cpu_percent, pids)', { skip: cgroupSkip('memory, cpu and pid limits') }, () => {
  const { c } = useDaemon({ flags: ['--kill-grace-s', '1'] });
  let instance: string;
  const leftovers: string[] = [];
  before(async () => {
    instance = (await anyCall(c, 'system.info')).instance_id;
  });
  after(() => {
    for (const p of leftovers) killPids(taggedProcs(p));
  });

  it('system.info says which enforcement is active: cgroups here', async () => {
    const info = await anyCall(c, 'system.info');
    assert.ok(['cgroup-v2', 'cgroup-hybrid', 'cgroup-v1'].includes(info.enforcement.limits), `cgroups are writable here but enforcement.limits = ${JSON.stringify(info.enforcement.limits)}`);
  });

  it("the session's cgroups carry its limits: pids.max, memory ceiling with swap capped, CPU quota", async () => {
    const s = await anyCall(c, 'session.create', { limits: { pids: 64, memory_bytes: 256 * MIB, cpu_percent: 50 } });
    const tag = await sessionTagOf(c, s.session_id);
    leftovers.push(tag.prefix);
    const dirs = sessionCgroupDirs(instance, tag.session);
    const file = (name: string) => dirs.map((dir) => readFileOrNull(path.join(dir, name))).find((v) => v !== null) ?? null;
    assert.equal(file('pids.max'), '64', `pids.max of the session cgroups ${dirs.join(', ')}`);
    const mem = file('memory.max') ?? file('memory.limit_in_bytes');
    assert.equal(mem, String(256 * MIB), 'memory ceiling');
    const swap = file('memory.swap.max') ?? file('memory.memsw.limit_in_bytes');
    if (swap !== null) assert.ok(swap === '0' || swap === String(256 * MIB), `swap is not capped: ${swap}`);
    const cpuMax = file('cpu.max');
    if (cpuMax !== null) assert.equal(cpuMax, '50000 100000');
    else {
      const quota = Number(file('cpu.cfs_quota_us'));
      const period = Number(file('cpu.cfs_period_us'));
      assert.ok(Math.abs(quota / period - 0.5) < 0.01, `cfs quota ${quota} / period ${period}`);
    }
    await anyCall(c, 'session.destroy', { session_id: s.session_id });
    assert.deepEqual(sessionCgroupDirs(instance, tag.session), [], 'the session cgroups outlived session.destroy');
  });

  it('memory_bytes 256 MiB: a command allocating 1 GiB is OOM-killed (SIGKILL/137, oom_killed: true); the session runs the next command', async () => {
    const s = await anyCall(c, 'session.create', { limits: { memory_bytes: 256 * MIB } });
    const tag = await sessionTagOf(c, s.session_id);
    leftovers.push(tag.prefix);
    const ok = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'echo fine' });
    assert.equal(ok.oom_killed, false, `a plain echo reports oom_killed ${JSON.stringify(ok.oom_killed)}`);
    const hog = hasPython() ? `python3 -c "b = b'x' * (1 << 30); print(len(b))"` : 'dd if=/dev/zero of=/dev/null bs=1G count=1';
    // a generous timeout: the test is about the kill; a loaded machine may take long to fault 256 MiB in
    const r = await anyCall(c, 'exec.run', { session_id: s.session_id, command: hog, timeout_s: HOG_TIMEOUT_S });
    assert.equal(r.timed_out, false, `the hog ran into its ${HOG_TIMEOUT_S} s timeout: the memory limit did not stop it`);
    assert.notEqual(r.stdout, String(1 << 30) + '\n', 'the 1 GiB allocation succeeded under a 256 MiB limit');
    assert.ok(r.signal === 'SIGKILL' || r.exit_code === 137, `not killed by SIGKILL: exit_code ${r.exit_code}, signal ${r.signal}, stderr ${r.stderr.slice(0, 300)}`);
    assert.equal(r.oom_killed, true, `oom_killed = ${JSON.stringify(r.oom_killed)} for a command the OOM killer killed`);
    assert.equal(r.timed_out, false);
    const next = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'echo next' });
    assert.equal(next.stdout, 'next\n');
    assert.equal(next.exit_code, 0);
    assert.equal(next.oom_killed, false, 'oom_killed must describe the command, not the session history');
    const info = await anyCall(c, 'session.info', { session_id: s.session_id });
    assert.equal(info.state, 'idle');
    await anyCall(c, 'session.destroy', { session_id: s.session_id });
  });

  it('a background command killed by the OOM killer reports it through exec.wait', async () => {
    const s = await anyCall(c, 'session.create', { limits: { memory_bytes: 128 * MIB } });
    const tag = await sessionTagOf(c, s.session_id);
    leftovers.push(tag.prefix);
    const st = await anyCall(c, 'exec.start', { session_id: s.session_id, command: 'dd if=/dev/zero of=/dev/null bs=1G count=1', timeout_s: HOG_TIMEOUT_S });
    const r = await anyCall(c, 'exec.wait', { command_id: st.command_id, timeout_s: HOG_TIMEOUT_S });
    assert.ok(r.signal === 'SIGKILL' || r.exit_code === 137, `exit_code ${r.exit_code}, signal ${r.signal}`);
    assert.equal(r.oom_killed, true);
    const info = await anyCall(c, 'exec.info', { command_id: st.command_id });
    assert.notEqual(info.state, 'running');
    await anyCall(c, 'session.destroy', { session_id: s.session_id });
  });

  it('cpu_percent 50 keeps a spinner under 0.75 core and not starved (≥ 0.25 core, or half of an unlimited spinner beside it); session.info.usage sees the same', async () => {
    const s = await anyCall(c, 'session.create', { limits: { cpu_percent: 50 } });
    const tag = await sessionTagOf(c, s.session_id);
    leftovers.push(tag.prefix);
    const st = await anyCall(c, 'exec.start', { session_id: s.session_id, command: 'while :; do :; done', timeout_s: 30 });
    // An unlimited spinner of the test's own: what a process gets on this machine right now, so that a
    // busy machine (other tests beside this one) is not mistaken for a limit that starves.
    const control = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
    try {
      assert.ok(await waitFor(() => taggedProcs(tag.prefix).length > 0), 'the spinner does not show up');
      await sleep(500); // let the quota settle in
      const pids = taggedProcs(tag.prefix);
      const cpu = () => pids.reduce((sum, p) => sum + (procCpuSeconds(p) ?? 0), 0);
      const controlCpu = () => procCpuSeconds(control.pid!) ?? 0;
      // The ceiling must hold in every window. The floor only shows the spinner was not starved by
      // the limit: 0.25 core, or half of what the unlimited spinner got in the same window (a starving
      // limit, say 1 %, fails both); up to three windows are measured for it.
      let u1: { cpu_s: number; pids: number; memory_bytes: number } | undefined;
      const windows: string[] = [];
      let passed = false;
      for (let attempt = 0; attempt < 3 && !passed; attempt++) {
        const u0 = (await anyCall(c, 'session.info', { session_id: s.session_id })).usage;
        const c0 = cpu();
        const k0 = controlCpu();
        const t0 = performance.now();
        await sleep(3000);
        const c1 = cpu();
        const k1 = controlCpu();
        const wall = (performance.now() - t0) / 1000;
        u1 = (await anyCall(c, 'session.info', { session_id: s.session_id })).usage;
        assert.ok(u0 && typeof u0.cpu_s === 'number' && typeof u1?.cpu_s === 'number', `session.info.usage = ${JSON.stringify(u1)}`);
        const cores = (c1 - c0) / wall;
        const viaUsage = (u1!.cpu_s - u0.cpu_s) / wall;
        const free = (k1 - k0) / wall;
        windows.push(`${cores.toFixed(2)} cores by /proc, ${viaUsage.toFixed(2)} by usage.cpu_s, the unlimited spinner ${free.toFixed(2)}`);
        assert.ok(cores <= 0.75, `the spinner used ${cores.toFixed(2)} cores under cpu_percent 50 (measured from /proc)`);
        assert.ok(viaUsage <= 0.75, `session.info.usage.cpu_s says ${viaUsage.toFixed(2)} cores under cpu_percent 50 (/proc says ${cores.toFixed(2)})`);
        const floor = Math.min(0.25, free / 2);
        passed = cores >= floor && viaUsage >= floor;
      }
      assert.ok(passed, `the spinner was starved in every 3 s window: ${windows.join('; ')}`);
      const usage = u1!;
      assert.ok(usage.pids >= 1, `usage.pids = ${usage.pids} while a spinner runs`);
      assert.ok(usage.memory_bytes > 0, `usage.memory_bytes = ${usage.memory_bytes} while a spinner runs`);
    } finally {
      control.kill('SIGKILL');
      await anyCall(c, 'exec.cancel', { command_id: st.command_id });
    }
    const w = await anyCall(c, 'exec.wait', { command_id: st.command_id, timeout_s: 10 });
    assert.equal(w.running, false);
    await anyCall(c, 'session.destroy', { session_id: s.session_id });
  });

  it('pids 16: a session cannot hold more than 16 processes; forks beyond fail, the session survives', async () => {
    const s = await anyCall(c, 'session.create', { limits: { pids: 16 } });
    const tag = await sessionTagOf(c, s.session_id);
    leftovers.push(tag.prefix);
    const r = await anyCall(c, 'exec.run', {
      session_id: s.session_id,
      command: 'i=0; while [ $i -lt 40 ]; do sleep 30 2>/dev/null & i=$((i+1)); done; echo started',
      timeout_s: 20,
    });
    assert.ok(r.stdout === 'started\n' || r.exit_code !== 0, JSON.stringify(r));
    const live = taggedProcs(tag.prefix).length;
    assert.ok(live <= 16, `${live} processes of the session are alive under pids 16`);
    const info = await anyCall(c, 'session.info', { session_id: s.session_id });
    assert.ok(info.usage.pids <= 16 && info.usage.pids >= 1, `usage.pids = ${info.usage.pids}`);
    await anyCall(c, 'session.destroy', { session_id: s.session_id, force: true });
    assert.ok(await waitFor(() => taggedProcs(tag.prefix).length === 0), 'session.destroy left processes behind');
    const s2 = await anyCall(c, 'session.create', { limits: { pids: 16 } });
    const ok = await anyCall(c, 'exec.run', { session_id: s2.session_id, command: 'echo ok' });
    assert.equal(ok.stdout, 'ok\n');
    await anyCall(c, 'session.destroy', { session_id: s2.session_id });
  });
});

describe('limits: rlimits only (--cgroups off), where no cgroup can hold them', () => {
  const { c } = useDaemon({ flags: ['--cgroups', 'off', '--kill-grace-s', '1'] });

  it('system.info says rlimits-only', async () => {
    const info = await anyCall(c, 'system.info');
    assert.equal(info.enforcement.limits, 'rlimits-only');
  });

  it('memory_bytes becomes an address-space rlimit: a 1 GiB allocation fails, the session survives', async () => {
    const s = await anyCall(c, 'session.create', { limits: { memory_bytes: 256 * MIB, pids: 500 } });
    const r = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'ulimit -v; ulimit -u 2>/dev/null || ulimit -p' });
    assert.equal(r.stdout, `${(256 * MIB) / 1024}\n500\n`);
    const hog = hasPython() ? `python3 -c "b = b'x' * (1 << 30); print(len(b))"` : 'dd if=/dev/zero of=/dev/null bs=1G count=1';
    const h = await anyCall(c, 'exec.run', { session_id: s.session_id, command: hog, timeout_s: HOG_TIMEOUT_S });
    assert.notEqual(h.exit_code, 0, `the 1 GiB allocation succeeded under a 256 MiB address-space limit: ${JSON.stringify({ ...h, stdout: h.stdout.slice(0, 100) })}`);
    assert.equal(h.oom_killed, false, 'an allocation refused by an rlimit is not an OOM kill');
    const next = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'echo next' });
    assert.equal(next.stdout, 'next\n');
    await anyCall(c, 'session.destroy', { session_id: s.session_id });
  });
});
