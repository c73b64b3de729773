/**
 * The docker tier against a real engine (docs/security.md, isolation tiers, issue 6), driving
 * DockerTier directly: one container per session, commands as execs with
 * separated streams and exit codes, stdin EOF, state capture through the
 * control FIFO, completion that background processes do not delay, tree kill
 * inside the container, no environment value in `docker inspect`, crash
 * recovery by labels, the warm pool, and an engine reached over TCP; and
 * the regressions of output cut short at the exit (the end marker), a
 * resize overtaken by input, and an OOM kill counted toward the next command.
 * Skips with the reason when no engine or test image is here (fails under
 * TRL_REQUIRE_TIERS=1).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { TierSession, ExitStatus, SpawnedProcess, SpawnSpec } from '../src/tiers/tier.js';
import { LABEL_HOST, LABEL_INSTANCE, LABEL_SESSION } from '../src/tiers/docker/container.js';
import { EndMarkerCut, splitOutput } from '../src/tiers/docker/demux.js';
import { newEndMarker } from '../src/tiers/docker/exec.js';
import { dockerSettings } from '../src/server/tier-registry.js';
import { GhostMounts } from '../src/tiers/shared/ghost-mounts.js';
import { DockerTier } from '../src/tiers/docker/docker-tier.js';
import { fifoDirPrefix } from '../src/tiers/shared/fifo-pool.js';
import { newInstanceId } from '../src/tiers/shared/instance-id.js';
import { configSchema, type Config } from '../src/config/config-schema.js';
import { containersLabelled, containerTop, deadPid, dockerCli, dockerSkip, inspectRaw, removeWorkspace, runIn, startTcpProxy, TEST_IMAGE, tierWorkspace, WORKSPACE_UID } from './helpers/docker.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

const skip = dockerSkip('the docker tier');

function dockerBackend(instanceId: string, cfg: Config): DockerTier {
  return new DockerTier({ instanceId, ghosts: new GhostMounts(instanceId), ...dockerSettings(cfg) });
}

function config(extra: Record<string, unknown> = {}): Config {
  return { ...configSchema().parse({ docker_image: TEST_IMAGE, docker_network: 'host', ...extra }), runtime: 'docker' };
}

/** Only docker-init and the holder: what a container runs when no command is left. */
function assertOnlyHolders(containerId: string, what: string): void {
  const procs = containerTop(containerId);
  assert.deepEqual(
    procs.map((l) => l.trim().split(/\s+/).slice(1).join(' ')).sort(),
    ['/sbin/docker-init -- sleep 2147483647', 'sleep 2147483647'],
    `${what}: processes left in the container:\n${procs.join('\n')}`,
  );
}

const STANDARD_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/tmp' };

function spawnSpec(spec: Partial<SpawnSpec> & { script?: string }): SpawnSpec {
  return {
    program: spec.program ?? { kind: 'shell', shell: '/bin/sh', script: spec.script ?? 'true' },
    env: spec.env ?? STANDARD_ENV,
    cwd: spec.cwd ?? '/',
    stdin: spec.stdin ?? 'ignore',
    stateFd: spec.stateFd ?? false,
    commandTag: spec.commandTag ?? `t${Math.random().toString(36).slice(2, 8)}`,
    pty: spec.pty,
  };
}

interface Strict {
  status: ExitStatus;
  stdout: Buffer;
  stderr: Buffer;
  /** Both output streams had ended by the end of the reading. */
  ended: boolean;
  ms: number;
}

/**
 * Read a spawned command's output the way the runtime does (src/runtime/command.ts):
 * after `exited`, only until an event-loop turn brings nothing new, three turns at
 * most — no grace time (runIn waits 50 ms more), so output that arrives after the
 * exit is missing here.
 */
async function collectStrict(proc: SpawnedProcess, t0: number): Promise<Strict> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let ends = 0;
  proc.stdout.on('data', (c: Buffer) => out.push(c));
  proc.stderr.on('data', (c: Buffer) => err.push(c));
  proc.stdout.once('end', () => ends++);
  proc.stderr.once('end', () => ends++);
  proc.state?.resume();
  const status = await proc.exited;
  const ms = performance.now() - t0;
  for (let turn = 0; turn < 3 && ends < 2; turn++) await new Promise((r) => setImmediate(r));
  return { status, stdout: Buffer.concat(out), stderr: Buffer.concat(err), ended: ends === 2, ms };
}

async function runStrict(session: TierSession, spec: Partial<SpawnSpec> & { script?: string }): Promise<Strict> {
  const t0 = performance.now();
  return collectStrict(await session.spawn(spawnSpec(spec)), t0);
}

async function until(what: string, cond: () => boolean): Promise<void> {
  assert.ok(await waitFor(cond), `${what}: not within ${DEADLINE_MS} ms`);
}

/**
 * Until the command tagged `tag` has at least `n` processes and its `sleep 1000` runs (so that the
 * traps set before it are in place).
 */
async function untilTree(session: TierSession, tag: string, n: number): Promise<void> {
  let found: number[] = [];
  const container = session.describe().container_id!;
  const ok = await waitFor(
    async () => (found = await session.processes({ commandTag: tag, pgids: [] })).length >= n && containerTop(container).some((l) => l.includes('sleep 1000')),
    DEADLINE_MS,
    200,
  );
  assert.ok(ok, `command ${tag}: ${found.length} of ${n} processes, or no \`sleep 1000\``);
}

describe("end marker (docker-demux): where an exec's output ends", () => {
  const marker = Buffer.from(newEndMarker(), 'latin1');
  // Full of near misses: every proper prefix of the marker, each followed by a byte that breaks it.
  const nearMisses = Buffer.concat(Array.from({ length: marker.length }, (_, k) => Buffer.concat([marker.subarray(0, k), Buffer.from('\n')])));
  const payload = Buffer.concat([nearMisses, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff)), nearMisses, marker.subarray(0, 5)]);
  const stream = Buffer.concat([payload, marker, Buffer.from('after the marker: a background process')]);

  /** Feed `stream` in pieces of the given sizes; returns what came out and whether the marker was found. */
  function feed(sizes: () => number): { out: Buffer; found: boolean } {
    const cut = new EndMarkerCut(marker);
    const out: Buffer[] = [];
    let found = false;
    for (let off = 0; off < stream.length && !found;) {
      const n = Math.max(1, sizes());
      const r = cut.push(stream.subarray(off, off + n));
      out.push(r.out);
      found = r.found;
      off += n;
    }
    return { out: Buffer.concat(out), found };
  }

  it('passes everything before the marker byte-exact and nothing after it, however the stream is split', () => {
    assert.ok(!marker.includes(0x0a) && !marker.includes(0x0d), 'no CR or LF: a terminal passes the marker unchanged');
    assert.match(marker.toString(), /^[0-9A-F]{24}$/);
    assert.notEqual(newEndMarker(), newEndMarker());
    for (let split = 1; split < stream.length; split += split < payload.length - 40 ? 97 : 1) {
      let first = true;
      const r = feed(() => (first ? ((first = false), split) : stream.length));
      assert.ok(r.found, `split at ${split}`);
      assert.ok(r.out.equals(payload), `split at ${split}: ${r.out.length} bytes out of ${payload.length}`);
    }
    let seed = 1;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), 1 + (seed % 61));
    for (const sizes of [() => 1, () => 23, () => 24, () => 25, random]) {
      const r = feed(sizes);
      assert.ok(r.found && r.out.equals(payload));
    }
  });

  it('gives back what it held when the stream ends without the marker', () => {
    const cut = new EndMarkerCut(marker);
    const partial = Buffer.concat([Buffer.from('last words '), marker.subarray(0, marker.length - 1)]);
    const r = cut.push(partial);
    assert.equal(r.found, false);
    assert.ok(Buffer.concat([r.out, cut.flush()]).equals(partial));
  });

  it('ends stdout and stderr each at its marker; later output of one does not hold up the other', async () => {
    const frame = (type: number, data: string | Buffer) => {
      const body = Buffer.from(data);
      const h = Buffer.alloc(8);
      h[0] = type;
      h.writeUInt32BE(body.length, 4);
      return Buffer.concat([h, body]);
    };
    const conn = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const split = splitOutput(conn, stdout, stderr, { tty: false, marker });
    const got = { out: '', err: '' };
    stdout.on('data', (c: Buffer) => (got.out += c));
    stderr.on('data', (c: Buffer) => (got.err += c));
    const m = marker.toString();
    // The marker split across frames, and a background process writing after it, a lot.
    conn.write(Buffer.concat([frame(1, 'out\n' + m.slice(0, 10)), frame(2, 'err\n'), frame(1, m.slice(10) + 'late')]));
    for (let i = 0; i < 64; i++) conn.write(frame(1, Buffer.alloc(64 * 1024, 'b')));
    conn.write(frame(2, `more err\n${m}late`));
    await split.ended;
    assert.deepEqual(got, { out: 'out\n', err: 'err\nmore err\n' });
    conn.end();
  });
});

describe('docker tier (DockerTier against a real engine)', { skip, concurrency: false }, () => {
  let backend: DockerTier;
  let session: TierSession;
  let containerId: string;
  let workspace: string;
  const instanceId = newInstanceId();

  before(async () => {
    workspace = tierWorkspace();
    backend = dockerBackend(instanceId, config());
    const t0 = performance.now();
    const health = await backend.healthCheck();
    console.log(`# health check: ${Math.round(performance.now() - t0)} ms`);
    assert.equal(health.available, true, health.detail);
    assert.equal(health.isolated, true);
    const t1 = performance.now();
    session = await backend.createSession({ sessionTag: 'main01', limits: {}, workspace, network: false, image: undefined });
    console.log(`# container create+start (cold session.create): ${Math.round(performance.now() - t1)} ms`);
    containerId = session.describe().container_id!;
  });

  after(async () => {
    await backend?.close();
    if (workspace) removeWorkspace(workspace);
  });

  it('describes the session by container id and image', () => {
    assert.match(containerId, /^[0-9a-f]{12}$/);
    assert.equal(session.describe().image, TEST_IMAGE);
    assert.deepEqual(backend.enforcement().process_tracking, 'container-exec-tag');
  });

  it('creates the container as specified: labels, no capabilities, no network, init, the workspace mounted', () => {
    const info = JSON.parse(inspectRaw(containerId)!)[0];
    assert.equal(info.Config.Labels[LABEL_INSTANCE], instanceId);
    assert.equal(info.Config.Labels[LABEL_SESSION], 'main01');
    assert.equal(info.Config.Labels[LABEL_HOST], hostname());
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
    assert.equal(info.HostConfig.SecurityOpt[0], 'no-new-privileges');
    assert.match(info.HostConfig.SecurityOpt[1], /^seccomp=\{/, 'our seccomp profile');
    assert.equal(info.HostConfig.SecurityOpt.length, 2);
    assert.equal(info.HostConfig.Init, true);
    assert.equal(info.HostConfig.NetworkMode, 'none');
    // Never root: a root daemon runs the container as the workspace's owner, another as itself.
    const owner = process.getuid!() === 0 ? `${WORKSPACE_UID}:${WORKSPACE_UID}` : `${process.getuid!()}:${process.getgid!()}`;
    assert.equal(info.Config.User, owner);
    assert.ok(info.Mounts.some((m: { Source: string; Destination: string; RW: boolean }) => m.Source === workspace && m.Destination === workspace && m.RW));
    assert.match(info.Name, new RegExp(`^/trl-${instanceId.slice(0, 8)}-main01$`));
  });

  it('runs a command as an exec with separated stdout/stderr and its exit code', async () => {
    const r = await runIn(session, { script: 'echo out; echo err >&2; exit 3' });
    assert.deepEqual(r.status, { code: 3, signal: null });
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('passes env per exec, with the tracking tag, and the cwd', async () => {
    const r = await runIn(session, { script: 'echo "$GREETING|$__TRL_TAG|$(pwd)"', env: { PATH: '/bin:/usr/bin', GREETING: 'hi there' }, cwd: workspace, commandTag: 'envtag' });
    assert.equal(r.stdout, `hi there|${instanceId}:main01:envtag|${workspace}\n`);
  });

  it('gives an exec exactly the session environment: the image and engine variables are unset', async () => {
    const r = await runIn(session, { script: 'env | sort', env: { PATH: '/bin', ONLY: '1' }, commandTag: 'exact' });
    assert.deepEqual(
      r.stdout.split('\n').filter((l) => l && !/^(PWD|SHLVL|_)=/.test(l)),
      ['ONLY=1', 'PATH=/bin', `__TRL_TAG=${instanceId}:main01:exact`],
    );
  });

  it('delivers stdin and its EOF (cat ends)', async () => {
    const r = await runIn(session, { program: { kind: 'argv', argv: ['cat'] }, input: 'hello\nworld\n' });
    assert.deepEqual(r.status, { code: 0, signal: null });
    assert.equal(r.stdout, 'hello\nworld\n');
  });

  it('reads the shell state back from fd 3 through the control FIFO, and nothing of it stays on disk', async () => {
    const script = `trap 'pwd >&3; printf "\\0" >&3; export -p >&3' EXIT\neval 'cd /tmp && export PLANT=s3cr3t-fifo' 3>&-`;
    const r = await runIn(session, { script, stateFd: true });
    assert.deepEqual(r.status, { code: 0, signal: null });
    assert.ok(r.state!.startsWith('/tmp\n\0'), JSON.stringify(r.state));
    assert.match(r.state!, /export PLANT='s3cr3t-fifo'/);
    // The FIFO directories hold only unused FIFOs (and the backend's empty directories): never a regular file.
    for (const d of fs.readdirSync(tmpdir()).filter((n) => n.startsWith(fifoDirPrefix(instanceId)))) {
      for (const f of fs.readdirSync(path.join(tmpdir(), d))) {
        const st = fs.statSync(path.join(tmpdir(), d, f));
        assert.ok(st.isFIFO() || (st.isDirectory() && fs.readdirSync(path.join(tmpdir(), d, f)).length === 0), `${d}/${f} is not a FIFO`);
      }
    }
  });

  it('runs a pty exec: one stream, a terminal of the asked size', async () => {
    const r = await runIn(session, { script: 'tty; stty size', pty: { cols: 91, rows: 27 } });
    assert.deepEqual(r.status, { code: 0, signal: null });
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n27 91\r\n$/);
    assert.equal(r.stderr, '');
  });

  it('completes when the main process exits although a background process holds stdout', async () => {
    // the background sleep outlives the test unless killed: a completion that waited for it would hang
    for (const [tag, stateFd] of [
      ['bgout1', false],
      ['bgout2', true],
    ] as const) {
      const r = await runIn(session, { script: 'sleep 1000 & echo started', commandTag: tag, stateFd });
      assert.equal(r.stdout, 'started\n');
      assert.deepEqual(r.status, { code: 0, signal: null });
      assert.ok((await session.processes({ commandTag: tag, pgids: [] })).length >= 1, `${tag}: the background sleep is gone`);
      await session.terminate({ commandTag: tag, pgids: [] }, 0);
    }
  });

  it('has all of the output when a command exits: the exit status does not outrun it (40 short commands, seq, pty)', async () => {
    // The status comes through the control FIFO, the output through the engine; the runtime reads
    // only briefly after the exit. Each stream ends at the wrapper's end marker before `exited`.
    for (let i = 0; i < 40; i++) {
      const r = await runStrict(session, { script: 'echo x; pwd; echo err >&2' });
      assert.deepEqual([r.stdout.toString(), r.stderr.toString(), r.ended, r.status.code], ['x\n/\n', 'err\n', true, 0], `run ${i}`);
    }
    const syntax = await runStrict(session, { script: 'if then fi (' });
    assert.equal(syntax.status.code, 2);
    assert.match(syntax.stderr.toString(), /syntax error/);
    const seq = await runStrict(session, { script: 'seq 1 20000' });
    assert.equal(seq.stdout.length, 108_894, 'seq 1 20000 cut short');
    for (let i = 0; i < 5; i++) {
      const p = await runStrict(session, { script: 'echo x', pty: { cols: 80, rows: 24 } });
      assert.deepEqual([p.stdout.toString(), p.ended], ['x\r\n', true], `pty run ${i}`);
    }
  });

  it('delivers 5 MB of binary output byte-exact, and stderr after it', async () => {
    const r = await runStrict(session, { script: 'f=/tmp/bin.$$; head -c 5000000 /dev/urandom >$f && cat $f && md5sum <$f >&2; rm -f $f' });
    assert.equal(r.status.code, 0, r.stderr.toString());
    assert.equal(r.stdout.length, 5_000_000);
    assert.equal(r.stderr.toString().split(/\s/)[0], createHash('md5').update(r.stdout).digest('hex'));
  });

  it('drops nothing of an exited command’s output while its reader is paused longer than the daemon waits for quiet', async () => {
    // 300 KB fit the container's pipe, the engine and the connection: the command exits at once,
    // its status arrives, and the output waits for a reader that has paused (as the runtime pauses
    // a stream whose client is behind). Paused time must not count toward giving the output up.
    const proc = await session.spawn({
      program: { kind: 'shell', shell: '/bin/sh', script: 'head -c 300000 /dev/zero | tr "\\0" a; echo; echo tail' },
      env: { PATH: '/usr/bin:/bin' },
      cwd: '/',
      stdin: 'ignore',
      stateFd: false,
      commandTag: 'paused01',
    });
    proc.stdout.pause();
    const chunks: Buffer[] = [];
    proc.stderr.resume();
    // until the paused reader is full: the exec's output is held back from here on
    await until('the paused stdout filled up', () => proc.stdout.readableLength >= proc.stdout.readableHighWaterMark);
    proc.stdout.on('data', (c: Buffer) => chunks.push(c));
    proc.stdout.resume();
    const status = await proc.exited;
    const out = Buffer.concat(chunks).toString('latin1');
    assert.equal(status.code, 0);
    assert.equal(out.length, 300_006, `output cut short: ${out.length} bytes, ending ${JSON.stringify(out.slice(-20))}`);
    assert.ok(out.endsWith('a\ntail\n'));
  });

  it('ends the output by itself, late, when the wrapper is killed before its end marker', async () => {
    // The wrapper is the program's parent; killed, it writes no marker and no status, and a
    // background process holds the output open: the output is given up once it has been quiet 2 s after the exit.
    const r = await runStrict(session, { script: 'echo before; sleep 3 & kill -9 $PPID' });
    assert.equal(r.stdout.toString(), 'before\n');
    assert.equal(r.ended, true);
    assert.ok(r.ms > 1500, `ended after ${Math.round(r.ms)} ms, before the output was quiet 2 s`);
    // Its `sleep 3` must not outlive the test on a slow machine: later tests count the container's processes.
    await session.terminate({ commandTag: null, pgids: [] }, 0);
  });

  it('applies an exec resize before input written after it (read x; stty size sees the new size)', async () => {
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const proc = await session.spawn(spawnSpec({ script: 'echo ready; read x; stty size', stdin: 'pipe', pty: { cols: 80, rows: 24 } }));
      let out = '';
      proc.stdout.on('data', (c: Buffer) => (out += c));
      await until('ready', () => out.includes('ready'));
      // As the runtime does for exec.resize then exec.input: the resize is not awaited.
      proc.resize!(120, 40);
      proc.stdin!.write('go\n');
      const r = await collectStrict(proc, t0);
      assert.equal(r.status.code, 0);
      assert.ok(out.split('\r\n').includes('40 120'), `run ${i}: ${JSON.stringify(out)}`);
    }
  });

  it('delivers a signal to a command tree and reports a death by it', async () => {
    let tagged = '';
    const r = await runIn(session, {
      script: 'sleep 1000',
      commandTag: 'sig1',
      onSpawn: async () => {
        await untilTree(session, 'sig1', 1);
        tagged = String(await session.processes({ commandTag: 'sig1', pgids: [] }));
        assert.ok((await session.signal({ commandTag: 'sig1', pgids: [] }, 'SIGINT')) >= 1);
      },
    });
    assert.notEqual(tagged, '', 'processes() found the command');
    assert.deepEqual(r.status, { code: null, signal: 'SIGINT' });
  });

  it('terminates sh -c \'trap "" TERM; sleep 1000 & wait\' leaving no process in the container', async () => {
    let killed = 0;
    const r = await runIn(session, {
      script: `sh -c 'trap "" TERM; sleep 1000 & wait'`,
      commandTag: 'trap1',
      onSpawn: async () => {
        await untilTree(session, 'trap1', 2);
        killed = await session.terminate({ commandTag: 'trap1', pgids: [] }, 300);
      },
    });
    assert.ok(killed >= 2, `killed ${killed}`);
    assert.deepEqual(r.status, { code: null, signal: 'SIGKILL' });
    assertOnlyHolders(containerId, 'after terminate');
  });

  it('kills a whole session tree, detached and env-scrubbed processes included', async () => {
    await runIn(session, { script: 'setsid sleep 900 & env -i /bin/sleep 901 & (sleep 902 &) ; echo ok' });
    assert.ok((await session.processes({ commandTag: null, pgids: [] })).length >= 3);
    await session.terminate({ commandTag: null, pgids: [] }, 200);
    assertOnlyHolders(containerId, 'after a session-wide terminate');
  });

  it('reports usage from container stats', async () => {
    const r = runIn(session, { script: 'sleep 1000 & sleep 1000 & wait', commandTag: 'use1' });
    await untilTree(session, 'use1', 3);
    let u = await session.usage();
    // container stats lag behind the processes: wait until they count the three
    await waitFor(async () => (u = await session.usage()) !== null && u.pids >= 3);
    assert.ok(u, 'usage is known while the engine answers');
    assert.ok(u.pids >= 3, `pids ${u.pids}`);
    assert.ok(u.memory_bytes > 0);
    assert.ok(u.cpu_s > 0);
    assert.equal(await session.oomKills(), 0);
    await session.terminate({ commandTag: 'use1', pgids: [] }, 0);
    await r;
  });

  it('keeps every planted env value out of docker inspect', async () => {
    const planted = `planted-${Math.random().toString(36).slice(2)}`;
    await runIn(session, { script: 'sleep 3 &', env: { PATH: '/bin', SECRET_TOKEN: planted } });
    const raw = inspectRaw(containerId)!;
    assert.ok(!raw.includes(planted), 'docker inspect shows the planted value');
    assert.ok(!raw.includes('SECRET_TOKEN'));
    await session.terminate({ commandTag: null, pgids: [] }, 0);
  });

  it('applies limits: memory, pids, cpu and ulimits', async () => {
    const limited = await backend.createSession({
      sessionTag: 'lim01',
      limits: { memory_bytes: 64 << 20, pids: 20, cpu_percent: 50, nofile: 200, cpu_s: 100 },
      workspace,
      network: false,
      image: undefined,
    });
    try {
      const info = JSON.parse(inspectRaw(limited.describe().container_id!)!)[0].HostConfig;
      assert.equal(info.Memory, 64 << 20);
      assert.equal(info.MemorySwap, 64 << 20);
      assert.equal(info.NanoCpus, 5e8);
      assert.equal(info.PidsLimit, 22);
      const r = await runIn(limited, { script: 'ulimit -n; ulimit -t' });
      assert.equal(r.stdout, '200\n100\n');
      // Fill the pids limit (the shell dies when it cannot fork any more): no exec can start now,
      // so the kill falls back to the daemon's side; afterwards the session works again.
      await runIn(limited, { script: 'while :; do sleep 60 & done 2>/dev/null' });
      const full = await limited.usage();
      assert.ok(full, 'usage is known while the engine answers');
      assert.ok(full.pids <= 20 && full.pids >= 15, `pids ${full.pids}`);
      const procsBefore = containerTop(limited.describe().container_id!);
      const killed = await limited.terminate({ commandTag: null, pgids: [] }, 0);
      assert.ok(killed >= 15, `killed ${killed} of (usage ${full.pids}):\n${procsBefore.join('\n')}\nleft:\n${containerTop(limited.describe().container_id!).join('\n')}`);
      assert.equal((await runIn(limited, { script: 'echo again' })).stdout, 'again\n');
    } finally {
      await limited.destroy(0, []);
    }
  });

  it("counts an OOM kill toward the command that caused it, not the next one (the engine's events come late)", async () => {
    const limited = await backend.createSession({ sessionTag: 'oom01', limits: { memory_bytes: 64 << 20 }, workspace, network: false, image: undefined });
    try {
      // As the runtime does: the count before the spawn and after the exit.
      const counted = async (script: string) => {
        const before = await limited.oomKills();
        const r = await runStrict(limited, { script });
        return { stdout: r.stdout.toString(), oomKilled: (await limited.oomKills()) > before };
      };
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await counted('dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo "status $?"'), { stdout: 'status 137\n', oomKilled: true }, `hog ${i}`);
        assert.deepEqual(await counted('echo next'), { stdout: 'next\n', oomKilled: false }, `the command after hog ${i}`);
      }
    } finally {
      await limited.destroy(0, []);
    }
  });

  it('cuts the network unless asked, and uses the configured network when asked', async () => {
    const ifaces = async (s: TierSession) => (await runIn(s, { script: 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort' })).stdout.trim().split('\n');
    assert.deepEqual(await ifaces(session), ['lo']);
    const net = await backend.createSession({ sessionTag: 'net01', limits: {}, workspace, network: true, image: undefined });
    try {
      assert.ok((await ifaces(net)).length > 1, 'the host network shows more than lo');
    } finally {
      await net.destroy(0, []);
    }
  });

  it('runs as a non-root user: state, stdin and tree kill still work', async () => {
    const b = dockerBackend(newInstanceId(), config({ docker_user: '1000:1000' }));
    try {
      const s = await b.createSession({ sessionTag: 'user01', limits: {}, workspace, network: false, image: undefined });
      assert.equal(
        b
          .baseEnv(
            new Map([
              ['LANG', 'C.UTF-8'],
              ['AWS_SECRET', 'x'],
            ]),
          )
          .get('HOME'),
        '/tmp',
      );
      const r = await runIn(s, { script: `trap 'pwd >&3; printf "\\0" >&3; export -p >&3' EXIT\neval 'id -u; cd /tmp' 3>&-`, stateFd: true });
      assert.equal(r.stdout, '1000\n');
      assert.ok(r.state!.startsWith('/tmp\n\0'));
      assert.equal((await runIn(s, { program: { kind: 'argv', argv: ['cat'] }, input: 'x' })).stdout, 'x');
      const k = await runIn(s, {
        script: `trap "" TERM; sleep 1000 & wait`,
        commandTag: 'k',
        onSpawn: async () => {
          await untilTree(s, 'k', 2);
          await s.terminate({ commandTag: 'k', pgids: [] }, 200);
        },
      });
      assert.equal(k.status.signal, 'SIGKILL');
      assertOnlyHolders(s.describe().container_id!, 'non-root terminate');
    } finally {
      await b.close();
    }
  });

  it('passes only what a shell needs from the daemon environment', () => {
    const env = backend.baseEnv(
      new Map([
        ['LANG', 'C.UTF-8'],
        ['TZ', 'UTC'],
        ['AWS_SECRET_ACCESS_KEY', 'nope'],
        ['PATH', '/opt/daemon/bin'],
        ['HOME', '/home/d'],
      ]),
    );
    assert.deepEqual(Object.fromEntries(env), {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/tmp',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
    });
  });

  it("refuses a workspace swapped for a link after its check: the container would have the link's target", async () => {
    // The runtime checks a workspace by path (workspace-policy.ts) and the engine mounts the path later: a command of
    // another session that can write the parent may swap the directory for a link in between. The tier is given the
    // path as checked; here it is already a link when the engine mounts it, as after a swap.
    const target = tierWorkspace('trl-ws-target-');
    const parent = tierWorkspace('trl-ws-parent-');
    const swapped = path.join(parent, 'ws');
    fs.symlinkSync(target, swapped);
    try {
      await assert.rejects(backend.createSession({ sessionTag: 'swap01', limits: {}, workspace: swapped, network: false, image: undefined }), (err: Error) => {
        assert.match(err.message, new RegExp(`the workspace ${swapped} became a link to ${target} after it was checked`));
        return true;
      });
      assert.deepEqual(
        containersLabelled(`${LABEL_SESSION}=swap01`).filter((n) => n.includes(instanceId.slice(0, 8))),
        [],
        'the container was left behind',
      );
    } finally {
      removeWorkspace(parent);
      removeWorkspace(target);
    }
  });

  it('destroy removes the container and its FIFO directory', async () => {
    const s = await backend.createSession({ sessionTag: 'gone01', limits: {}, workspace, network: false, image: undefined });
    const id = s.describe().container_id!;
    const dirsBefore = fs.readdirSync(tmpdir()).filter((n) => n.startsWith(fifoDirPrefix(instanceId)));
    await runIn(s, { script: 'sleep 100 &' });
    const killed = await s.destroy(200, []);
    assert.ok(killed >= 1, `killed ${killed}`);
    assert.equal(inspectRaw(id), null, 'docker inspect still finds the container');
    const dirsAfter = fs.readdirSync(tmpdir()).filter((n) => n.startsWith(fifoDirPrefix(instanceId)));
    assert.equal(dirsAfter.length, dirsBefore.length - 1);
  });

  it('finds and reaps the containers of a dead instance, and leaves a live one alone', async () => {
    const dead = newInstanceId(deadPid());
    const dir = fs.mkdtempSync(path.join(tmpdir(), fifoDirPrefix(dead)));
    dockerCli('create', '--label', `${LABEL_INSTANCE}=${dead}`, '--label', `${LABEL_HOST}=${hostname()}`, '--name', `trl-${dead.slice(0, 8)}-orphan`, TEST_IMAGE, 'sleep', '1000');
    const elsewhere = newInstanceId(deadPid());
    dockerCli('create', '--label', `${LABEL_INSTANCE}=${elsewhere}`, '--label', `${LABEL_HOST}=another-machine`, '--name', `trl-${elsewhere.slice(0, 8)}-remote`, TEST_IMAGE, 'sleep', '1000');
    try {
      const found = await backend.deadInstances();
      assert.ok(found.includes(dead), `deadInstances() = ${JSON.stringify(found)}`);
      assert.ok(!found.includes(instanceId), 'its own instance is not dead');
      assert.ok(!found.includes(elsewhere), "another machine's daemon is not judged by this machine's pids");
      assert.equal(await backend.reapInstance(dead), 1);
      assert.deepEqual(containersLabelled(`${LABEL_INSTANCE}=${dead}`), []);
      assert.equal(fs.existsSync(dir), false, 'the FIFO directory of the dead instance is gone');
      assert.ok(!(await backend.deadInstances()).includes(dead));
      assert.notEqual(inspectRaw(containerId), null, 'the live session survived');
    } finally {
      dockerCli('rm', '-f', `trl-${elsewhere.slice(0, 8)}-remote`);
    }
  });

  it('reports an engine that cannot be reached and an image that is missing, naming the fix', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    let unreachable;
    try {
      unreachable = dockerBackend(newInstanceId(), config());
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
    const h1 = await unreachable.healthCheck();
    await unreachable.close();
    assert.equal(h1.available, false);
    assert.match(h1.detail, /start dockerd or set DOCKER_HOST/);

    const noImage = dockerBackend(newInstanceId(), config({ docker_image: 'trl-test:no-such-image' }));
    const h2 = await noImage.healthCheck();
    await noImage.close();
    assert.equal(h2.available, false);
    assert.match(h2.detail, /docker pull trl-test:no-such-image or set --docker-image/);
  });

  it('hands out a warm container from the pool and applies limits to it', async () => {
    const b = dockerBackend(newInstanceId(), config({ docker_warm_pool: 1, default_working_dir: workspace }));
    try {
      // The health check starts the pool; a session that comes while its container is still starting takes that one.
      assert.equal((await b.healthCheck()).available, true);
      const t0 = performance.now();
      const s = await b.createSession({ sessionTag: 'warm01', limits: { memory_bytes: 96 << 20, pids: 30 }, workspace, network: false, image: undefined });
      const warmMs = performance.now() - t0;
      console.log(`# warm session.create: ${warmMs.toFixed(1)} ms`);
      const info = JSON.parse(inspectRaw(s.describe().container_id!)!)[0];
      assert.match(info.Name, /-pool-/, 'the session got a pool container');
      assert.equal(info.HostConfig.Memory, 96 << 20);
      assert.equal(info.HostConfig.PidsLimit, 32);
      assert.equal((await runIn(s, { script: 'echo warm' })).stdout, 'warm\n');
      // A session with ulimits cannot use the pool: they are fixed at create.
      const u = await b.createSession({ sessionTag: 'cold01', limits: { nofile: 100 }, workspace, network: false, image: undefined });
      assert.doesNotMatch(JSON.parse(inspectRaw(u.describe().container_id!)!)[0].Name, /-pool-/);
    } finally {
      await b.close();
    }
    assert.deepEqual(containersLabelled(`${LABEL_INSTANCE}=${b.instanceId}`), [], 'close() removed the pool and the sessions');
  });

  it('works through an engine reached as DOCKER_HOST=tcp://127.0.0.1:PORT', async () => {
    const proxy = await startTcpProxy();
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = `tcp://127.0.0.1:${proxy.port}`;
    let b: DockerTier;
    try {
      b = dockerBackend(newInstanceId(), config());
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
    try {
      const h = await b.healthCheck();
      assert.equal(h.available, true, h.detail);
      assert.match(h.detail, new RegExp(`tcp://127.0.0.1:${proxy.port}`));
      const s = await b.createSession({ sessionTag: 'tcp01', limits: {}, workspace, network: false, image: undefined });
      const r = await runIn(s, { script: 'echo out; echo err >&2; exit 4' });
      assert.deepEqual([r.status.code, r.stdout, r.stderr], [4, 'out\n', 'err\n']);
      assert.equal((await runIn(s, { program: { kind: 'argv', argv: ['cat'] }, input: 'through tcp\n' })).stdout, 'through tcp\n');
      const k = await runIn(s, {
        script: `sh -c 'trap "" TERM; sleep 1000 & wait'`,
        commandTag: 'k',
        onSpawn: async () => {
          await untilTree(s, 'k', 2);
          await s.terminate({ commandTag: 'k', pgids: [] }, 100);
        },
      });
      assert.equal(k.status.signal, 'SIGKILL');
      assert.ok(proxy.connections() > 3, 'the engine was reached through the proxy');
    } finally {
      await b.close();
      await proxy.close();
    }
  });
});
