/**
 * The cross-tier conformance suite (issue 6, docs/security.md, isolation tiers, §9): ONE suite body,
 * run against a real daemon per isolation tier — `host`, `sandbox`
 * (bubblewrap) and `docker` (a busybox container) — asserting that a
 * session's state persistence, completion with background processes, exit
 * codes and streams, timeouts and tree kill, streaming, stdin, PTY, signals,
 * limits and bad input behave the same in each.
 *
 * Every command here works under busybox ash (the docker tier's image is
 * `trl-test:busybox`) as well as under the host's /bin/sh. Where a tier
 * legitimately differs, the difference is asserted explicitly, per tier, with
 * the reason beside it. A tier that cannot run here (no bwrap, no engine) is
 * skipped with a printed reason; TRL_REQUIRE_TIERS=1 (CI) makes that a failure.
 *
 * Sleeps carry unique durations (uniqueSleep: 30000–39999 s) rather than a
 * fixed `sleep 100`, so that concurrent test files and the host tier's
 * machine-wide `ps` cannot confuse one test's processes with another's.
 *
 * Processes are found the way a client would: `ps -A -o args` run in the same
 * session (inside the sandbox or container), plus the host's /proc where the
 * tier's processes are visible to it (always for host and sandbox; for docker
 * when the engine runs on this machine — a remote engine's processes are not
 * there, so that check then proves nothing but cannot fail).
 *
 * `npm test` runs it on every tier (and the docker tier's inner path); `npm run test:engines` on the
 * docker tier's other engines (gVisor, a second engine over TCP); TRL_CONFORMANCE=all on both.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { assertExitData, collectStream } from './helpers/streams.js';
import { ensureTestImage, removeWorkspace, startTierDaemon, TIER_NAMES, tierWorkspace, TRL_IMAGE, type TierDaemon, type TierName, type TierOptions } from './helpers/tiers.js';
import { expectCode, type TrlClient, waitForOutput } from './helpers/client.js';
import { MiB } from './helpers/memory.js';
import { assertSleepsGone, killSleeps, uniqueSleep } from './helpers/processes.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

/** How long an exec.wait may wait for a command that is about to end: a deadline, not a speed (a loaded machine may need it). */
const WAIT_S = DEADLINE_MS / 1000;
/** The memory hog's timeout: it ends in about a second on a quiet machine; the test is about the kill, not its speed. */
const HOG_TIMEOUT_S = 300;
import { RUNSC_VARIANT, type TierVariant } from './helpers/runsc.js';
import { startRemoteTierDaemon } from './helpers/second-engine.js';

/** Limits enforcement values of system.info that hold a whole session (process count, memory ceiling). */
const SESSION_LIMITS_ENFORCED = ['cgroup-v2', 'cgroup-v1', 'cgroup-hybrid', 'container-cgroup'];

/**
 * One suite run: a tier with its flags and, for docker, the image, which picks its path — `docker`
 * (trl-test:busybox, no trl inside: every command a docker exec), `docker-inner` (trl-test:trl: the trl
 * inside the container runs them), docker with gVisor as the containers' runtime (where the engine
 * has runsc registered), and docker on a second engine over TCP that shares no filesystem with the
 * daemon (a dockerd this file starts: test/helpers/second-engine.ts; one engine and one daemon for
 * the whole variant).
 */
interface Variant extends TierVariant {
  tier: TierName;
  dockerImage?: string;
  /** How the variant's daemon starts, when not by startTierDaemon (its close() ends what it started). */
  start?: (opts: TierOptions) => Promise<TierDaemon>;
}
const TIER_VARIANTS: Variant[] = [...TIER_NAMES.map((tier) => ({ tier, label: `${tier} tier`, flags: [] })), { tier: 'docker', label: 'docker-inner tier', flags: [], dockerImage: TRL_IMAGE }];
/**
 * The docker tier on other engines: gVisor, and a second engine sharing no filesystem. The whole
 * body on them costs about 100 CPU-seconds (60 of them gVisor's), an eighth of all of `npm test`'s,
 * so they run as a step of their own (`npm run test:engines`, in .ci/run after `npm test`);
 * docker-runsc.test.ts and docker-remote.test.ts keep what is particular to each in `npm test`.
 */
const ENGINE_VARIANTS: Variant[] = [
  { tier: 'docker', ...RUNSC_VARIANT },
  { tier: 'docker', label: 'docker on a second engine over TCP (no shared filesystem)', flags: [], dockerImage: TRL_IMAGE, start: startRemoteTierDaemon },
];
/** TRL_CONFORMANCE: `tiers` (the default, `npm test`), `engines` (`npm run test:engines`) or `all`. */
const VARIANT_SETS: Record<string, Variant[]> = { tiers: TIER_VARIANTS, engines: ENGINE_VARIANTS, all: [...TIER_VARIANTS, ...ENGINE_VARIANTS] };
const VARIANTS = VARIANT_SETS[process.env.TRL_CONFORMANCE ?? 'tiers'];
if (!VARIANTS) throw new Error(`TRL_CONFORMANCE=${process.env.TRL_CONFORMANCE}: set it to tiers (npm test), engines (npm run test:engines) or all`);

// The variants side by side, and a few tests of each at a time: every test has sessions of its own and
// finds its processes by unique sleeps, so none can see another's (most of their time is waiting for a container).
describe('conformance', { concurrency: true }, () => {
  for (const v of VARIANTS) conformance(v);
});

function conformance(variant: Variant): void {
  const { tier, dockerImage } = variant;
  describe(`conformance: ${variant.label}`, { concurrency: 4 }, () => {
    let h: TierDaemon;
    let c: TrlClient;
    let ws: string;
    const sleeps: number[] = [];
    const sessions: string[] = [];

    before(async () => {
      if (dockerImage) ensureTestImage(dockerImage);
      // a 1 s kill grace keeps the SIGTERM-ignoring trees quick; 16 MiB output cap so 5 MB streams whole
      const opts = { flags: ['--kill-grace-s', '1', '--max-output-bytes', String(16 * MiB), ...variant.flags] };
      h = variant.start ? await variant.start(opts) : await startTierDaemon(tier, opts);
      if (h.client) c = h.client;
      ws = tierWorkspace();
    });
    after(async () => {
      if (h?.client) for (const sid of sessions) await call('session.destroy', { session_id: sid, force: true }).catch(() => undefined);
      killSleeps(sleeps);
      await h?.close();
      if (ws) removeWorkspace(ws);
    });

    /** Untyped call: results are read field by field with exact assertions. */
    const call = (method: string, params: Record<string, unknown> = {}): Promise<any> => c.call(method, params);

    /** The variant's image, named per session: the daemon's default (and its health check, warm pool) stays the small busybox one. */
    const image = dockerImage ? { image: dockerImage } : {};

    /** A session of this tier working in (and bind-mounting, for isolated tiers) the workspace. */
    async function session(extra: Record<string, unknown> = {}): Promise<string> {
      const s = await call('session.create', { working_dir: ws, workspace: ws, ...image, ...extra });
      sessions.push(s.session_id);
      assert.equal(s.runtime, tier, `session.create without runtime gave a ${s.runtime} session from a --runtime ${tier} daemon`);
      return s.session_id;
    }
    const forget = (sid: string) => {
      const i = sessions.indexOf(sid);
      if (i >= 0) sessions.splice(i, 1);
    };
    async function destroy(sid: string): Promise<any> {
      const r = await call('session.destroy', { session_id: sid });
      forget(sid);
      return r;
    }
    const run = (session_id: string, command: string, extra: Record<string, unknown> = {}): Promise<any> => call('exec.run', { session_id, command, ...extra });
    const token = (): number => {
      const n = uniqueSleep();
      sleeps.push(n);
      return n;
    };

    /** Command lines of every process the session can see, from `ps` run inside it. */
    async function sessionProcs(sid: string): Promise<string[]> {
      const r = await run(sid, 'ps -A -o args');
      assert.equal(r.exit_code, 0, `ps failed in the ${tier} session: ${r.stderr}`);
      return r.stdout.split('\n').map((l: string) => l.trim());
    }
    const hasSleep = (procs: string[], n: number) => procs.some((l) => l === `sleep ${n}`);
    async function waitSessionSleep(sid: string, n: number, present: boolean, timeoutMs = DEADLINE_MS): Promise<void> {
      let procs: string[] = [];
      const ok = await waitFor(async () => hasSleep((procs = await sessionProcs(sid)), n) === present, timeoutMs, 100);
      assert.ok(ok, `\`sleep ${n}\` ${present ? 'never appeared' : 'is still there'} in the session's ps after ${timeoutMs} ms:\n${procs.join('\n')}`);
    }
    const waitOutput = (command_id: string, text: string) => waitForOutput(c, command_id, text);

    // ------------------------------------------------------------ 1. state persistence

    it('state: cd and export persist, unset removes, per-command env does not persist, session.update env is visible', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const sub = path.join(ws, 'state-sub');
      const r1 = await run(sid, 'mkdir -p state-sub && cd state-sub');
      assert.equal(r1.exit_code, 0, r1.stderr);
      assert.equal(r1.working_dir, sub);
      assert.equal((await run(sid, 'pwd')).stdout, sub + '\n');
      assert.equal((await run(sid, 'export FOO=bar')).exit_code, 0);
      assert.equal((await run(sid, 'true')).exit_code, 0);
      assert.equal((await run(sid, 'echo "$FOO"')).stdout, 'bar\n', 'an exported variable did not reach the next-but-one command');
      assert.equal((await run(sid, 'unset FOO')).exit_code, 0);
      assert.equal((await run(sid, 'echo "${FOO-unset}"')).stdout, 'unset\n');
      // command-level env: visible to that command only
      assert.equal((await run(sid, 'echo "$ONCE"', { env: { ONCE: 'x' } })).stdout, 'x\n');
      assert.equal((await run(sid, 'echo "${ONCE-unset}"')).stdout, 'unset\n');
      // session.update env: visible to the next command, and unset_env removes it
      await call('session.update', { session_id: sid, env: { UPD: 'from-update' } });
      assert.equal((await run(sid, 'echo "$UPD"; pwd')).stdout, `from-update\n${sub}\n`);
      const info = await call('session.info', { session_id: sid });
      assert.ok(info.env_keys.includes('UPD'), JSON.stringify(info.env_keys));
      assert.equal(info.working_dir, sub);
      await call('session.update', { session_id: sid, unset_env: ['UPD'] });
      assert.equal((await run(sid, 'echo "${UPD-unset}"')).stdout, 'unset\n');
      await destroy(sid);
    });

    // ------------------------------------------------------------ 2. completion with background processes

    it('background: `sleep N & echo started` returns at once; the sleep lives on in the session until session.destroy', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const n = token();
      // the sleep never ends by itself: a completion that waited for it would hang the test
      const r = await run(sid, `sleep ${n} & echo started`);
      assert.equal(r.exit_code, 0);
      assert.equal(r.signal, null);
      assert.equal(r.stdout, 'started\n');
      assert.equal(r.stderr, '');
      assert.equal(r.running, false);
      await waitSessionSleep(sid, n, true);
      // and `kill -0` of the background pid from a later command finds it
      const k = await run(sid, `sleep ${token()} & echo $!`);
      const pid = Number(k.stdout.trim());
      assert.ok(pid > 0, `\`echo $!\` printed ${JSON.stringify(k.stdout)}`);
      assert.equal((await run(sid, `kill -0 ${pid} && echo alive`)).stdout, 'alive\n');
      const d = await destroy(sid);
      assert.equal(d.state, 'terminated');
      assert.ok(d.killed_processes >= 2, `session.destroy killed_processes = ${d.killed_processes}, two sleeps were running`);
      await assertSleepsGone([n], 'after session.destroy: ');
      await expectCode(c, 'exec.run', { session_id: sid, command: 'true' }, 'SESSION_NOT_FOUND');
    });

    // ------------------------------------------------------------ 3. exit codes and separate streams

    it('exit codes and streams: `echo out; echo err >&2; exit 7`', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const r = await run(sid, 'echo out; echo err >&2; exit 7');
      assert.equal(r.stdout, 'out\n');
      assert.equal(r.stderr, 'err\n');
      assert.equal(r.exit_code, 7);
      assert.equal(r.signal, null);
      assert.equal(r.timed_out, false);
      assert.equal(r.stdout_bytes, 4);
      assert.equal(r.stderr_bytes, 4);
      assert.equal(r.working_dir, ws);
      // exit 0 and a large status too
      assert.equal((await run(sid, 'exit 0')).exit_code, 0);
      assert.equal((await run(sid, 'exit 255')).exit_code, 255);
      await destroy(sid);
    });

    // ------------------------------------------------------------ 4. timeouts and tree kill

    it("timeout: timeout_s 1 kills the whole tree (`sh -c 'sleep N & sleep N; wait'`), nothing is left", async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const n = token();
      const t0 = Date.now();
      const r = await run(sid, `sh -c 'sleep ${n} & sleep ${n}; wait'`, { timeout_s: 1 });
      const took = Date.now() - t0;
      assert.equal(r.timed_out, true, `not timed out after ${took} ms: ${JSON.stringify(r)}`);
      assert.equal(r.running, false);
      assert.ok(took >= 900, `ended after ${took} ms with timeout_s 1`);
      // the tree obeys SIGTERM: the shell is reported killed by it (exit_code 128+15), as on host
      assert.equal(r.signal, 'SIGTERM');
      assert.equal(r.exit_code, 143);
      const info = await call('exec.info', { command_id: r.command_id });
      assert.equal(info.state, 'timed_out');
      assert.equal(info.timed_out, true);
      await waitSessionSleep(sid, n, false);
      await assertSleepsGone([n], 'after the timeout: ');
      // the session is fine afterwards
      assert.equal((await run(sid, 'echo next')).stdout, 'next\n');
      await destroy(sid);
    });

    it('exec.cancel of `trap "" TERM; sleep N & wait` (exec.start) SIGKILLs the tree after the grace; no process is left', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const n = token();
      const s = await call('exec.start', { session_id: sid, command: `trap "" TERM; sleep ${n} & wait` });
      assert.equal(typeof s.command_id, 'string');
      await waitSessionSleep(sid, n, true);
      const listed = (await call('exec.list', { session_id: sid })).commands.find((x: any) => x.command_id === s.command_id);
      assert.equal(listed?.state, 'running');
      assert.equal(listed?.background, true);
      const res = await call('exec.cancel', { command_id: s.command_id });
      assert.deepEqual(res.cancelled, [s.command_id]);
      const w = await call('exec.wait', { command_id: s.command_id, timeout_s: WAIT_S });
      await waitSessionSleep(sid, n, false);
      await assertSleepsGone([n], 'after exec.cancel: ');
      // SIGTERM is ignored by the whole tree (inherited ignore), so it takes the SIGKILL after the grace
      assert.equal(w.signal, 'SIGKILL', `result of the cancelled SIGTERM-ignoring tree: ${JSON.stringify(w)}`);
      assert.equal(w.exit_code, 137);
      assert.equal((await call('exec.info', { command_id: s.command_id })).state, 'killed');
      await destroy(sid);
    });

    // ------------------------------------------------------------ 5. streaming

    it('streaming: `seq 1 20000` arrives line by line, in order, stdout events then one exit event', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const open = await c.stream('exec.stream', { session_id: sid, command: 'seq 1 20000' });
      const r = await collectStream(open);
      let expected = '';
      for (let i = 1; i <= 20000; i++) expected += `${i}\n`;
      assert.equal(r.error, null, JSON.stringify(r.error));
      assert.ok(r.stdout.text === expected, `seq output differs: ${r.stdout.text.length} chars, expected ${expected.length}; starts ${JSON.stringify(r.stdout.text.slice(0, 40))}`);
      assert.equal(r.stderr.chunks, 0);
      assert.equal(r.kinds.at(-1), 'exit');
      assert.ok(
        r.kinds.slice(0, -1).every((k) => k === 'stdout'),
        `events: ${[...new Set(r.kinds)].join(',')}`,
      );
      assert.equal(r.afterEnd, 0);
      const exit = assertExitData(r.exit, open.command_id);
      assert.equal(exit['exit_code'], 0);
      assert.equal(exit['signal'], null);
      assert.equal(exit['stdout_bytes'], expected.length);
      await destroy(sid);
    });

    it('streaming: 5 MB of `a` (head -c | tr) arrives byte-exact', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const N = 5_000_000;
      const open = await c.stream('exec.stream', {
        session_id: sid,
        command: `head -c ${N} /dev/zero | tr '\\0' a`,
        max_output_bytes: 8 * MiB,
      });
      const r = await collectStream(open, { hashOnly: true });
      assert.equal(r.error, null, JSON.stringify(r.error));
      assert.deepEqual(r.gaps, []);
      assert.equal(r.stdout.received, N);
      assert.equal(r.stdout.sha256, createHash('sha256').update(Buffer.alloc(N, 'a')).digest('hex'), 'the bytes are not all `a`');
      assert.equal(r.stderr.received, 0);
      const exit = assertExitData(r.exit, open.command_id);
      assert.equal(exit['exit_code'], 0);
      assert.equal(exit['stdout_bytes'], N);
      assert.equal(exit['stdout_truncated_bytes'], 0);
      await destroy(sid);
    });

    // ------------------------------------------------------------ 6. stdin

    it('stdin: exec.run `stdin` feeds cat; exec.start stdin_open + exec.input pieces + eof', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const r = await run(sid, 'cat', { stdin: 'hello\n' });
      assert.equal(r.stdout, 'hello\n');
      assert.equal(r.exit_code, 0);
      // without stdin: /dev/null, cat ends at once
      assert.equal((await run(sid, 'cat; echo done')).stdout, 'done\n');
      const s = await call('exec.start', { session_id: sid, command: 'cat', stdin_open: true });
      assert.equal((await call('exec.input', { command_id: s.command_id, data: 'one ' })).bytes_written, 4);
      await call('exec.input', { command_id: s.command_id, data: 'two\n' });
      await waitOutput(s.command_id, 'one two\n');
      const last = await call('exec.input', { command_id: s.command_id, data: 'three', eof: true });
      assert.equal(last.stdin_open, false);
      const w = await call('exec.wait', { command_id: s.command_id, timeout_s: WAIT_S });
      assert.equal(w.stdout, 'one two\nthree');
      assert.equal(w.exit_code, 0);
      assert.equal(w.signal, null);
      await destroy(sid);
    });

    // ------------------------------------------------------------ 7. PTY

    it('pty: the command sees a 100×30 terminal; exec.resize to 120×40 shows in stty size', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const s = await call('exec.start', { session_id: sid, command: 'stty size; test -t 0 && test -t 1 && echo istty; tty >/dev/null && echo named', pty: { cols: 100, rows: 30 } });
      const w = await call('exec.wait', { command_id: s.command_id, timeout_s: WAIT_S });
      const lines = w.stdout.split(/\r?\n/);
      assert.ok(lines.includes('30 100'), `stty size under a 100×30 pty: ${JSON.stringify(w.stdout)}`);
      assert.ok(lines.includes('istty'), `stdin and stdout must be a terminal: ${JSON.stringify(w.stdout)}`);
      // tty(1) needs ttyname(): a device the command can name. The sandbox's /dev/pts is its own
      // (the daemon's terminal devices are deliberately not mounted in), so the name does not resolve there;
      // under gVisor the exec's terminal is the engine's, handed in as a host file outside the sandbox's /dev/pts.
      assert.equal(lines.includes('named'), tier !== 'sandbox' && variant.namedPty !== false, `tty(1) naming the terminal: ${JSON.stringify(w.stdout)}`);
      assert.equal(w.stderr, '', 'a pty command has no separate stderr');
      assert.equal((await call('exec.info', { command_id: s.command_id })).pty, true);

      const r = await call('exec.start', {
        session_id: sid,
        command: 'echo ready; read x; stty size',
        pty: { cols: 80, rows: 24 },
        stdin_open: true,
      });
      await waitOutput(r.command_id, 'ready');
      assert.deepEqual(await call('exec.resize', { command_id: r.command_id, cols: 120, rows: 40 }), { command_id: r.command_id, cols: 120, rows: 40 });
      await call('exec.input', { command_id: r.command_id, data: 'go\n' });
      const rw = await call('exec.wait', { command_id: r.command_id, timeout_s: WAIT_S });
      assert.equal(rw.exit_code, 0, JSON.stringify(rw));
      assert.ok(rw.stdout.split(/\r?\n/).includes('40 120'), `stty size after exec.resize 120×40: ${JSON.stringify(rw.stdout)}`);
      await destroy(sid);
    });

    // ------------------------------------------------------------ 8. signals

    it('signals: exec.signal SIGTERM to `sleep N` → signal SIGTERM, exit_code 143 (as the host tier reports)', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const n = token();
      const s = await call('exec.start', { session_id: sid, command: `sleep ${n}` });
      await waitSessionSleep(sid, n, true);
      const sig = await call('exec.signal', { command_id: s.command_id, signal: 'SIGTERM' });
      assert.equal(sig.signal, 'SIGTERM');
      assert.ok(sig.delivered >= 1, `delivered ${sig.delivered}`);
      const w = await call('exec.wait', { command_id: s.command_id, timeout_s: WAIT_S });
      // host reports the signal by name and exit_code 128+15 (PROTOCOL: exit status, or 128+N when killed by signal N)
      assert.equal(w.signal, 'SIGTERM');
      assert.equal(w.exit_code, 143);
      assert.equal(w.timed_out, false);
      await waitSessionSleep(sid, n, false);
      await destroy(sid);
    });

    it('signals: SIGINT reaches a trap: `trap "echo got; exit 3" INT` → stdout ready/got, exit 3', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const s = await call('exec.start', { session_id: sid, command: 'trap "echo got; exit 3" INT; echo ready; while :; do sleep 1; done' });
      await waitOutput(s.command_id, 'ready\n');
      const sig = await call('exec.signal', { command_id: s.command_id, signal: 'SIGINT' });
      assert.ok(sig.delivered >= 1, `delivered ${sig.delivered}`);
      const w = await call('exec.wait', { command_id: s.command_id, timeout_s: WAIT_S });
      // the trap handles SIGINT: the command exits 3 by itself, it is not killed by the signal
      assert.deepEqual({ stdout: w.stdout, exit_code: w.exit_code, signal: w.signal }, { stdout: 'ready\ngot\n', exit_code: 3, signal: null });
      assert.equal((await call('exec.info', { command_id: s.command_id })).state, 'exited');
      await destroy(sid);
    });

    // ------------------------------------------------------------ 9. limits

    it('limits: pids 32 — a 100-fork loop fails to fork (stderr, nonzero), the daemon stays responsive', async (t) => {
      if (h.skip(t)) return;
      const how = h.enforcement?.limits ?? 'unknown';
      if (!SESSION_LIMITS_ENFORCED.includes(how)) {
        // rlimits-only: RLIMIT_NPROC counts the user's processes machine-wide (and root ignores it), so no per-session cap
        const why = `the ${tier} tier enforces limits by ${how}: no per-session process cap`;
        console.log(`# skipping: ${why}`);
        t.skip(why);
        return;
      }
      const sid = await session({ limits: { pids: 32 } });
      const s = await call('exec.start', {
        session_id: sid,
        command: 'i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done; wait',
        timeout_s: WAIT_S,
      });
      // the daemon answers while the session is at its cap
      for (let i = 0; i < 5; i++) assert.equal((await call('system.ping')).version, PROTOCOL_VERSION, 'system.ping while the session forked');
      const w = await call('exec.wait', { command_id: s.command_id, timeout_s: WAIT_S });
      assert.equal(w.timed_out, false);
      assert.notEqual(w.exit_code, 0, `the fork loop succeeded under pids 32: ${JSON.stringify({ ...w, stdout: undefined })}`);
      assert.match(w.stderr, /fork|resource temporarily unavailable/i, 'no fork failure reported on stderr');
      const info = await call('session.info', { session_id: sid });
      assert.ok(info.usage === null || info.usage.pids <= 32, `usage.pids = ${info.usage?.pids} under pids 32`);
      await call('session.destroy', { session_id: sid, force: true });
      forget(sid);
      assert.equal(typeof (await call('system.ping')).uptime_s, 'number');
      // a new session of the tier works
      const sid2 = await session({ limits: { pids: 32 } });
      assert.equal((await run(sid2, 'echo ok')).stdout, 'ok\n');
      await destroy(sid2);
    });

    it('limits: memory_bytes 128 MiB — `dd bs=200M` of /dev/zero is killed; the session runs the next command', async (t) => {
      if (h.skip(t)) return;
      const how = h.enforcement?.limits ?? 'unknown';
      if (!SESSION_LIMITS_ENFORCED.includes(how) && how !== 'rlimits-only') {
        const why = `the ${tier} tier enforces limits by ${how}: no memory ceiling`;
        console.log(`# skipping: ${why}`);
        t.skip(why);
        return;
      }
      // 128 MiB: on docker's inner path the trl inside (node: ~64 MB resident) lives under the same ceiling
      // (docs/docker-tier.md, memory); at twice its size every command process outranks it for the OOM killer,
      // at 64 MiB a second OOM kill while the hog's memory is being freed could take the trl instead of nothing.
      const sid = await session({ limits: { memory_bytes: 128 * MiB } });
      // dd reads /dev/zero into one 200 MiB buffer: each page it fills is charged to the session, with no pipe or
      // copy around it (a `head | tail` hog costs twice the CPU, and starved on a loaded CI machine it once took 62 s)
      const r = await run(sid, 'dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo "status $?"', { timeout_s: HOG_TIMEOUT_S });
      assert.equal(r.timed_out, false, `the memory hog ran into its ${HOG_TIMEOUT_S} s timeout: ${JSON.stringify(r)}`);
      if (how === 'rlimits-only') {
        // an address-space rlimit makes the allocation fail: dd exits nonzero, no OOM kill
        assert.notEqual(r.stdout, 'status 0\n', JSON.stringify(r));
        assert.equal(r.oom_killed, false);
      } else {
        // a session memory ceiling: the kernel's OOM killer kills dd (SIGKILL → 137 in the shell)
        assert.equal(r.stdout, 'status 137\n', `dd was not OOM-killed under a 128 MiB ceiling: ${JSON.stringify(r)}`);
        assert.equal(r.oom_killed, true, `oom_killed = ${JSON.stringify(r.oom_killed)}`);
      }
      const next = await run(sid, 'echo next');
      assert.equal(next.stdout, 'next\n');
      assert.equal(next.exit_code, 0);
      assert.equal(next.oom_killed, false, 'oom_killed must describe the command, not the session history (the next command was not OOM-killed)');
      await destroy(sid);
    });

    // ------------------------------------------------------------ 10. bad input

    it('bad input: unknown session → SESSION_NOT_FOUND; negative timeout_s → INVALID_PARAMS', async (t) => {
      if (h.skip(t)) return;
      await expectCode(c, 'exec.run', { session_id: 'no-such-session-0000', command: 'true' }, 'SESSION_NOT_FOUND');
      const sid = await session();
      await expectCode(c, 'exec.run', { session_id: sid, command: 'true', timeout_s: -1 }, 'INVALID_PARAMS');
      await expectCode(c, 'exec.run', { session_id: sid, command: '' }, 'INVALID_PARAMS');
      await expectCode(c, 'exec.start', { session_id: sid, command: 'cat', pty: { cols: 0, rows: 24 } }, 'INVALID_PARAMS');
      assert.equal((await run(sid, 'echo fine')).stdout, 'fine\n');
      await destroy(sid);
    });

    it('bad input: a syntax error exits 2 with a message on stderr; the session stays usable and its state intact', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      await run(sid, 'export KEEP=1');
      const r = await run(sid, 'if then fi (');
      // POSIX shells (dash on the host, busybox ash in the image) exit 2 on a syntax error
      assert.equal(r.exit_code, 2, JSON.stringify(r));
      assert.equal(r.signal, null);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /syntax error/i);
      const next = await run(sid, 'echo "ok $KEEP"; pwd');
      assert.equal(next.stdout, `ok 1\n${ws}\n`);
      await destroy(sid);
    });

    it('bad input: a nonexistent working_dir for one command → INVALID_PARAMS naming it; the session is unchanged', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const missing = path.join(ws, 'does-not-exist');
      // every tier checks the path before spawning (the workspace is mounted at the same path in isolated tiers)
      const e = await expectCode(c, 'exec.run', { session_id: sid, command: 'pwd', working_dir: missing }, 'INVALID_PARAMS');
      assert.ok(e.message.includes('working_dir'), e.message);
      assert.ok(e.message.includes(missing), e.message);
      const e2 = await expectCode(c, 'exec.run', { session_id: sid, command: 'pwd', working_dir: 'relative-missing' }, 'INVALID_PARAMS');
      assert.ok(e2.message.includes(path.join(ws, 'relative-missing')), `a relative working_dir resolves against the session cwd: ${e2.message}`);
      // an existing one works for that command only
      await run(sid, 'mkdir -p wd-once');
      assert.equal((await run(sid, 'pwd', { working_dir: 'wd-once' })).stdout, path.join(ws, 'wd-once') + '\n');
      assert.equal((await run(sid, 'pwd')).stdout, ws + '\n');
      await destroy(sid);
    });

    // ------------------------------------------------------------ 11. session.info

    it('session.info: runtime is the tier, isolation.isolated is (tier ≠ host), network off by default in isolated tiers', async (t) => {
      if (h.skip(t)) return;
      const sid = await session();
      const info = await call('session.info', { session_id: sid });
      assert.equal(info.runtime, tier);
      assert.equal(info.state, 'idle');
      assert.equal(info.working_dir, ws);
      assert.equal(info.workspace, ws);
      assert.equal(info.isolation.isolated, tier !== 'host');
      // the host tier cannot cut the network (always true); isolated tiers default to none
      assert.equal(info.isolation.network, tier === 'host');
      // docker: the path the image picks (trl inside: the inner trl; none: a docker exec per command)
      if (tier === 'docker') assert.equal(info.isolation.detail.exec_path, dockerImage === TRL_IMAGE ? 'inner' : 'exec');
      await destroy(sid);
      if (tier !== 'host') {
        const net = await session({ network: true });
        assert.equal((await call('session.info', { session_id: net })).isolation.network, true);
        await destroy(net);
      } else {
        await expectCode(c, 'session.create', { working_dir: ws, network: false }, 'INVALID_PARAMS');
      }
      // system.info agrees
      const sys = await call('system.info');
      assert.equal(sys.default_runtime, tier);
      assert.equal(sys.tiers[tier].available, true);
      assert.equal(sys.tiers[tier].isolated, tier !== 'host');
    });

    it('session.create: workspace defaults to working_dir (PROTOCOL §5), so the working_dir is usable in every tier', async (t) => {
      if (h.skip(t)) return;
      const s = await call('session.create', { working_dir: ws, ...image });
      sessions.push(s.session_id);
      assert.equal(s.working_dir, ws);
      assert.equal(s.workspace, ws, 'session.create without workspace: the workspace is not the working_dir');
      const r = await run(s.session_id, 'pwd');
      assert.equal(r.exit_code, 0, `pwd in a session created with working_dir only: ${JSON.stringify(r)}`);
      assert.equal(r.stdout, ws + '\n');
      await destroy(s.session_id);
    });
  });
}
