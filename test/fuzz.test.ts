/**
 * Protocol fuzzing (PROTOCOL §1–3): random JSON, wrong types, huge strings,
 * deep nesting, NUL bytes and invalid UTF-8, unicode names, random method
 * names, random params for real methods and random sequences of valid calls
 * on real and made-up ids — pipelined over a few raw connections. Every
 * request gets exactly one well-formed response envelope (its id echoed, or
 * null), error codes come from the documented list (INTERNAL_ERROR, "a bug",
 * counts as a failure), stream events only follow their response, the daemon
 * never exits, and afterwards only the sessions made on purpose are left.
 *
 * Commands are only ever `true`, `echo`, `sleep 0` or a short `printf`: every
 * field that reaches a shell (command, argv, shell, working_dir, env names) is
 * drawn from a safe list, and random JSON that happens to name a real method is
 * dropped.
 *
 * `npm test` sends about 2,000 requests; `npm run fuzz` (its own CI step) 20,000.
 * TRL_FUZZ_SEED and TRL_FUZZ_RUNS override the fixed seed and the run count.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { isMethodName } from '../src/protocol/methods.js';
import { anyCall, connect, type TrlClient } from './helpers/client.js';
import { type Daemon, makeTempDir, startDaemon } from './helpers/daemon.js';
import { caseArb, expectedKeyOfLine, type Ref, setFuzzWorkDir, UNKNOWN_KEY } from './helpers/fuzz-cases.js';
import { type Expect, type Failure, FuzzConnection } from './helpers/fuzz-connection.js';
import { zombieChildrenOf } from './helpers/processes.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

const SEED = Number(process.env.TRL_FUZZ_SEED ?? 20261122);
/** About 2,000 in `npm test`; `npm run fuzz` sets 20,000. */
const RUNS = Number(process.env.TRL_FUZZ_RUNS ?? 2_000);
const CONNECTIONS = 4;
const WINDOW = 48;
/** A response not back this long after its request is lost (commands are bounded by --default-timeout-s 5). */
const LOST_AFTER_MS = 30_000;
let WORK = '/tmp';

describe('protocol fuzzing', () => {
  let d: Daemon;
  let control: TrlClient;
  const purposeful: string[] = [];

  before(async () => {
    WORK = fs.realpathSync(makeTempDir('/tmp/trl-fuzz-wd-'));
    setFuzzWorkDir(WORK);
    d = await startDaemon({
      flags: ['--default-timeout-s', '5', '--kill-grace-s', '1', '--default-working-dir', WORK, '--session-max-commands', '1000000'],
    });
    control = await connect(d);
  });
  after(async () => {
    control?.close();
    await d?.shutdownClean();
    if (WORK !== '/tmp') fs.rmSync(WORK, { recursive: true, force: true });
  });

  it(`${RUNS} random requests, pipelined: exactly one well-formed response each, the daemon survives, nothing leaks`, { timeout: 10 * 60_000 }, async () => {
    console.log(`# fuzz: seed ${SEED}, ${RUNS} runs (set TRL_FUZZ_SEED / TRL_FUZZ_RUNS to change)`);
    for (let i = 0; i < 2; i++) purposeful.push((await anyCall(control, 'session.create', { name: `on-purpose-${i}` })).session_id);

    const t0 = Date.now();
    const cases = fc.sample(caseArb, { seed: SEED, numRuns: RUNS });
    const genMs = Date.now() - t0;

    const failures: Failure[] = [];
    const fail = (f: Failure) => failures.push(f);
    // pools of real ids, fed by the answers (by their shape: a null-id answer cannot be told apart from another)
    const sessionSet = new Set<string>();
    let sessions: string[] = [];
    const commands: string[] = [];
    const onOk = (_e: Expect, data: Record<string, unknown>) => {
      const sid = data?.['session_id'];
      if (typeof sid === 'string' && typeof data['created_at'] === 'string' && !purposeful.includes(sid) && !sessionSet.has(sid)) {
        sessionSet.add(sid);
        sessions.push(sid);
      }
      if (typeof sid === 'string' && data['state'] === 'terminated' && sessionSet.delete(sid)) sessions = sessions.filter((x) => x !== sid);
      if (typeof data?.['command_id'] === 'string') {
        commands.push(data['command_id']);
        if (commands.length > 300) commands.splice(0, 100);
      }
    };
    const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => FuzzConnection.open(d.socketPath, onOk, fail)));

    const resolveRefs = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map((x) => resolveRefs(x));
      if (v && typeof v === 'object') {
        const r = v as Partial<Ref>;
        if ((r.$ref === 'session' || r.$ref === 'command') && typeof r.k === 'number' && Object.keys(v).length === 2) {
          const pool = r.$ref === 'session' ? sessions : commands;
          return pool.length > 0 ? pool[r.k % pool.length] : `00000000-0000-4000-8000-${String(r.k).padStart(12, '0').slice(-12)}`;
        }
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveRefs(x)]));
      }
      return v;
    };

    let nextInt = 1_000_000;
    const kinds = new Map<string, number>();
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      kinds.set(c.what, (kinds.get(c.what) ?? 0) + 1);
      const conn = conns[i % CONNECTIONS]!;
      await conn.room(WINDOW);
      if (conn.closed || d.hasExited()) break;
      let line: Buffer;
      const e: Expect = { index: i, c, sentAt: Date.now() };
      if (c.kind === 'req') {
        const env: Record<string, unknown> = { ...(c.extra ?? {}) };
        let id: unknown;
        if (c.idMode === 'str') id = `f-${i}`;
        else if (c.idMode === 'int') id = nextInt++;
        else if (c.idMode === 'unicode') id = `ü-${i}-🙂\u0000`;
        else if (c.idMode === 'weird') id = c.weird;
        if (c.idMode !== 'none') env['id'] = id;
        env['method'] = c.method;
        const params = resolveRefs(c.params);
        if (params !== undefined) env['params'] = params;
        line = Buffer.from(JSON.stringify(env));
        if (typeof c.method === 'string') e.method = c.method;
        // oracles that hold whatever the state
        if (typeof c.method !== 'string' || c.method.length === 0) e.code = 'INVALID_PARAMS';
        else if (!isMethodName(c.method)) e.code = 'METHOD_NOT_FOUND';
        else if (params !== undefined && params !== null && (typeof params !== 'object' || Array.isArray(params))) e.code = 'INVALID_PARAMS';
        else if (params && typeof params === 'object' && UNKNOWN_KEY in params) e.code = 'INVALID_PARAMS';
      } else {
        const id = JSON.stringify(`r-${i}`);
        line = c.bytes ? Buffer.from(Buffer.from(c.bytes).toString('latin1').replace('{ID}', id), 'latin1') : Buffer.from(c.text!.replace('{ID}', id));
        // a raw line must be one line and not blank (blank lines are skipped by NDJSON readers)
        line = Buffer.from(line.toString('latin1').replace(/\n/g, ' '), 'latin1');
        if (line.toString('utf8').trim() === '') line = Buffer.from('{', 'latin1');
        if (c.code) e.code = c.code;
      }
      const key = expectedKeyOfLine(line);
      conn.send(line, key, e);
      // keep the number of live fuzz sessions bounded (max_sessions is 64)
      if (sessions.length > 24) {
        const victim = sessions.shift()!;
        sessionSet.delete(victim);
        void control.call('session.destroy', { session_id: victim, force: true }).catch(() => undefined);
      }
    }
    const sendMs = Date.now() - t0 - genMs;

    // every request answered?
    const allAnswered = () => conns.every((c) => c.inflight === 0);
    await waitFor(allAnswered, LOST_AFTER_MS, 50);
    if (!allAnswered()) {
      // a command stopped by SIGSTOP in a session without a timeout may rightly wait forever: ending it answers its waiters
      const stuck = conns
        .flatMap((c) => c.pending())
        .slice(0, 10)
        .map((e) => `${e.c.what}: ${JSON.stringify(e.c).slice(0, 200)}`);
      console.log(
        `# fuzz: still waiting after ${LOST_AFTER_MS} ms for ${conns.reduce((n, c) => n + c.inflight, 0)} answers; cancelling every command and destroying every fuzz session. Waiting for: ${stuck.join(' | ')}`,
      );
      for (const id of commands) await control.call('exec.cancel', { command_id: id }).catch(() => undefined);
      for (const s of sessions.splice(0)) await control.call('session.destroy', { session_id: s, force: true }).catch(() => undefined);
      await waitFor(allAnswered, DEADLINE_MS, 50);
    }
    const lost = conns.flatMap((c) => c.pending());
    const elapsed = Date.now() - t0;
    const responses = conns.reduce((n, c) => n + c.responses, 0);
    const events = conns.reduce((n, c) => n + c.events, 0);
    console.log(
      `# fuzz: ${cases.length} requests, ${responses} responses, ${events} events in ${elapsed} ms (generation ${genMs} ms, sending ${sendMs} ms); ` +
        [...kinds].map(([k, n]) => `${k} ${n}`).join(', '),
    );
    const describeCase = (index: number) => {
      if (index < 0) return '';
      const c = cases[index]!;
      return ` [case ${index}: ${JSON.stringify(c).slice(0, 300)}]`;
    };
    assert.equal(d.hasExited(), false, `the daemon exited during the fuzz run; stderr tail:\n${d.stderr().slice(-3000)}`);
    assert.ok(
      conns.every((c) => !c.closed),
      'the daemon closed a fuzz connection (only REQUEST_TOO_LARGE may, and no request was that large)',
    );
    assert.deepEqual(
      failures.slice(0, 15).map((f) => `${f.what}: ${f.problem}${describeCase(f.index)}`),
      [],
      `${failures.length} bad responses (seed ${SEED})`,
    );
    assert.deepEqual(
      lost.slice(0, 15).map((e) => `${e.c.what}${describeCase(e.index)}`),
      [],
      `${lost.length} requests never answered (seed ${SEED})`,
    );
    assert.equal(responses, cases.length, 'one response per request');
    for (const c of conns) c.close();

    // afterwards: only the sessions made on purpose are left, and they still work
    for (const s of sessions.splice(0)) await control.call('session.destroy', { session_id: s, force: true }).catch(() => undefined);
    // fuzz sessions whose create answer was an error cannot exist; ones we lost track of would show up here
    let list: string[] = [];
    let stats: Record<string, number> = {};
    await waitFor(
      async () => {
        list = (await anyCall(control, 'session.list')).sessions.map((s: { session_id: string }) => s.session_id);
        stats = await anyCall(control, 'system.stats');
        return list.length === purposeful.length && stats['active_sessions'] === purposeful.length && stats['running_commands'] === 0;
      },
      DEADLINE_MS,
      100,
    );
    const leftovers = list.filter((id) => !purposeful.includes(id));
    // sessions the fuzz created and then lost track of (e.g. the pool trimmed them) are destroyed by the test, then counted
    for (const id of leftovers) await control.call('session.destroy', { session_id: id, force: true }).catch(() => undefined);
    assert.deepEqual(leftovers, [], 'session.list holds sessions the fuzz run never got an answer for');
    assert.deepEqual([...list].sort(), [...purposeful].sort(), 'the sessions made on purpose are gone');
    assert.equal(stats['active_sessions'], purposeful.length, 'ephemeral sessions were left behind (system.stats.active_sessions)');
    assert.equal(stats['running_commands'], 0, 'commands are still running');
    for (const id of purposeful) {
      const r = await anyCall(control, 'exec.run', { session_id: id, command: 'echo still' });
      assert.equal(r.stdout, 'still\n');
    }
    await waitFor(() => zombieChildrenOf(d.pid).length === 0);
    assert.deepEqual(zombieChildrenOf(d.pid), [], 'zombie children of the daemon');
  });
});
