import { randomBytes } from 'node:crypto';
import type { TrlClient } from '../../src/client/client.js';
import { TrlClientError } from '../../src/client/client-error.js';
import { sleep } from '../lib/proc.js';
import { expect, Refused, type Tracker } from './tracker.js';

/** Sessions of one client whose foreground slot is free, reused between operations. */
export class SessionPool {
  private readonly idle: string[] = [];
  readonly all = new Set<string>();

  constructor(
    private readonly client: TrlClient,
    private readonly tracker: Tracker,
  ) {}

  async acquire(): Promise<string> {
    const id = this.idle.pop();
    if (id !== undefined) return id;
    const s = await this.tracker.rpc<{ session_id: string }>(this.client, 'pool', 'session.create', {});
    this.all.add(s.session_id);
    return s.session_id;
  }

  release(id: string): void {
    this.idle.push(id);
  }

  /** Any session of the pool, for background commands (they do not take the foreground slot). */
  async any(): Promise<string> {
    const first = this.all.values().next();
    if (!first.done) return first.value;
    const id = await this.acquire();
    this.release(id);
    return id;
  }

  async destroyAll(): Promise<void> {
    for (const id of this.all) await this.client.call('session.destroy', { session_id: id, force: true }).catch(() => undefined);
    this.all.clear();
    this.idle.length = 0;
  }
}

export interface OpContext {
  client: TrlClient;
  pool: SessionPool;
  tracker: Tracker;
  token: string;
}

type Op = (ctx: OpContext, kind: string) => Promise<void>;

/** exec.run result fields every finished command must have. */
interface RunResult {
  command_id: string;
  stdout: string;
  stderr: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  running: boolean;
  duration_ms: number;
  stdout_bytes: number;
}

function expectDone(r: RunResult, stdout: string, exit: number, stderr = ''): void {
  expect(r.stdout === stdout, `stdout should be ${JSON.stringify(stdout)}`, r.stdout);
  expect(r.stderr === stderr, `stderr should be ${JSON.stringify(stderr)}`, r.stderr);
  expect(r.exit_code === exit && r.signal === null, `exit should be ${exit}`, { exit_code: r.exit_code, signal: r.signal });
  expect(r.timed_out === false && r.running === false, 'the command should have ended by itself', { timed_out: r.timed_out, running: r.running });
}

/** Run `fn` with a free session of the pool; the session goes back to the pool afterwards (unless it broke). */
async function withSession(ctx: OpContext, fn: (sid: string) => Promise<void>): Promise<void> {
  const sid = await ctx.pool.acquire();
  let ok = false;
  try {
    await fn(sid);
    ok = true;
  } finally {
    if (ok) ctx.pool.release(sid);
    else ctx.pool.all.delete(sid);
  }
}

const OPS: Record<string, Op> = {
  /** A plain exec.run with a known output. */
  run: (ctx, kind) =>
    withSession(ctx, async (sid) => {
      const r = await ctx.tracker.rpc<RunResult>(ctx.client, kind, 'exec.run', { session_id: sid, command: `printf '%s\\n' ${ctx.token}` });
      expectDone(r, `${ctx.token}\n`, 0);
    }),

  /** Output on stderr and a non-zero exit: not an error, the exit code in the result. */
  'run-exit': (ctx, kind) =>
    withSession(ctx, async (sid) => {
      const r = await ctx.tracker.rpc<RunResult>(ctx.client, kind, 'exec.run', { session_id: sid, command: `echo ${ctx.token} >&2; exit 7` });
      expectDone(r, '', 7, `${ctx.token}\n`);
    }),

  /** argv mode: no shell. */
  argv: (ctx, kind) =>
    withSession(ctx, async (sid) => {
      const r = await ctx.tracker.rpc<RunResult>(ctx.client, kind, 'exec.run', { session_id: sid, argv: ['printf', '%s', ctx.token] });
      expectDone(r, ctx.token, 0);
    }),

  /** No session: an ephemeral one, gone when the command ends. */
  ephemeral: async (ctx, kind) => {
    const r = await ctx.tracker.rpc<RunResult>(ctx.client, kind, 'exec.run', { command: `echo ${ctx.token}` });
    expectDone(r, `${ctx.token}\n`, 0);
  },

  /** A session's whole life: env, cd/export persistence, info, destroy, and the id is dead afterwards. */
  session: async (ctx, kind) => {
    const { client, tracker, token } = ctx;
    const s = await tracker.rpc<{ session_id: string }>(client, kind, 'session.create', { env: { SOAK_TOK: token } });
    const sid = s.session_id;
    try {
      const a = await tracker.rpc<RunResult>(client, kind, 'exec.run', { session_id: sid, command: 'echo "$SOAK_TOK"' });
      expectDone(a, `${token}\n`, 0);
      const b = await tracker.rpc<RunResult>(client, kind, 'exec.run', { session_id: sid, command: `cd /tmp && export SOAK_X=${token}` });
      expectDone(b, '', 0);
      const c = await tracker.rpc<RunResult>(client, kind, 'exec.run', { session_id: sid, command: `printf '%s:%s' "$PWD" "$SOAK_X"` });
      expectDone(c, `/tmp:${token}`, 0);
      const info = await tracker.rpc<{ command_count: number; env_keys: string[]; working_dir: string }>(client, kind, 'session.info', { session_id: sid });
      expect(info.command_count === 3, 'command_count should be 3', info.command_count);
      expect(info.working_dir === '/tmp', 'working_dir should be /tmp', info.working_dir);
      expect(info.env_keys.includes('SOAK_TOK') && info.env_keys.includes('SOAK_X'), 'env_keys should name SOAK_TOK and SOAK_X', info.env_keys);
    } finally {
      const d = await tracker.rpc<{ state: string }>(client, kind, 'session.destroy', { session_id: sid });
      expect(d.state === 'terminated', 'session.destroy should answer state terminated', d);
    }
    try {
      await tracker.rpc(client, kind, 'session.info', { session_id: sid });
    } catch (e) {
      expect(e instanceof TrlClientError && e.code === 'SESSION_NOT_FOUND', 'a destroyed session should be SESSION_NOT_FOUND', e instanceof TrlClientError ? e.code : String(e));
      return;
    }
    expect(false, 'session.info of a destroyed session succeeded');
  },

  /** exec.start + exec.wait. */
  background: async (ctx, kind) => {
    const sid = await ctx.pool.any();
    const t0 = performance.now();
    const st = await ctx.tracker.rpc<{ command_id: string; pid: number }>(ctx.client, kind, 'exec.start', { session_id: sid, command: `sleep 0.2; echo ${ctx.token}` });
    expect(st.pid > 0, 'exec.start should give a pid', st);
    const r = await ctx.tracker.rpc<RunResult>(ctx.client, kind, 'exec.wait', { command_id: st.command_id });
    expectDone(r, `${ctx.token}\n`, 0);
    expect(performance.now() - t0 >= 195, 'exec.wait returned before the 0.2 s command could end');
  },

  /** exec.stream: contiguous offsets, the exact bytes, then one exit event. */
  stream: (ctx, kind) =>
    withSession(ctx, async (sid) => {
      const expected = `${ctx.token}-1\n${ctx.token}-2\n${ctx.token}-3\n`;
      const done = ctx.tracker.openStream(kind);
      ctx.tracker.requests++;
      let out = '';
      let err = '';
      let exit: Record<string, unknown> | null = null;
      try {
        const st = await ctx.client.stream('exec.stream', { session_id: sid, command: `for i in 1 2 3; do echo ${ctx.token}-$i; done; echo e >&2` });
        ctx.tracker.answered++;
        for await (const ev of st.events) {
          if (ev.event === 'stdout') {
            expect(ev.offset === Buffer.byteLength(out), 'stdout offsets should be contiguous', { offset: ev.offset, have: out.length });
            out += String(ev.data);
          } else if (ev.event === 'stderr') {
            expect(ev.offset === Buffer.byteLength(err), 'stderr offsets should be contiguous', { offset: ev.offset, have: err.length });
            err += String(ev.data);
          } else if (ev.event === 'exit') exit = ev.data as Record<string, unknown>;
          else expect(false, `unexpected ${ev.event} event`, ev);
        }
      } finally {
        done();
      }
      expect(out === expected, 'streamed stdout', out);
      expect(err === 'e\n', 'streamed stderr', err);
      expect(exit !== null && exit['exit_code'] === 0 && exit['stdout_bytes'] === Buffer.byteLength(expected), 'exit event', exit);
    }),

  /** A command over its timeout: timed_out, and the session goes on. */
  timeout: (ctx, kind) =>
    withSession(ctx, async (sid) => {
      const r = await ctx.tracker.rpc<RunResult>(ctx.client, kind, 'exec.run', { session_id: sid, command: 'sleep 5', timeout_s: 0.3 });
      expect(r.timed_out === true && r.running === false, 'the command should have timed out', { timed_out: r.timed_out, running: r.running });
      expect(r.duration_ms >= 250 && r.duration_ms < 3000, 'a 0.3 s timeout of sleep should end in 0.3 s', r.duration_ms);
      expect(r.exit_code !== 0, 'a timed-out command should not exit 0', r.exit_code);
      const after = await ctx.tracker.rpc<RunResult>(ctx.client, kind, 'exec.run', { session_id: sid, command: `echo ${ctx.token}` });
      expectDone(after, `${ctx.token}\n`, 0);
    }),

  /** exec.start of a long sleep, exec.cancel, exec.wait: killed, not exited. */
  cancel: async (ctx, kind) => {
    const sid = await ctx.pool.any();
    const st = await ctx.tracker.rpc<{ command_id: string }>(ctx.client, kind, 'exec.start', { session_id: sid, command: 'sleep 30; echo never' });
    await sleep(50 + Math.random() * 100);
    const c = await ctx.tracker.rpc<{ cancelled: string[] }>(ctx.client, kind, 'exec.cancel', { command_id: st.command_id });
    expect(c.cancelled.includes(st.command_id), 'exec.cancel should name the command', c);
    const r = await ctx.tracker.rpc<RunResult>(ctx.client, kind, 'exec.wait', { command_id: st.command_id, timeout_s: 20 });
    expect(r.stdout === '' && r.running === false, 'a cancelled sleep prints nothing and is over', r);
    expect(r.signal === 'SIGTERM' || r.signal === 'SIGKILL' || r.exit_code === 143 || r.exit_code === 137, 'a cancelled command dies by signal', { exit_code: r.exit_code, signal: r.signal });
  },

  /** 100 kB of output, every byte checked. */
  bulk: (ctx, kind) =>
    withSession(ctx, async (sid) => {
      const r = await ctx.tracker.rpc<RunResult>(ctx.client, kind, 'exec.run', { session_id: sid, command: "head -c 100000 /dev/zero | tr '\\0' a" });
      expectDone(r, 'a'.repeat(100_000), 0);
    }),

  /** exec.output after the end: the bytes, eof. */
  output: async (ctx, kind) => {
    const sid = await ctx.pool.any();
    const st = await ctx.tracker.rpc<{ command_id: string }>(ctx.client, kind, 'exec.start', { session_id: sid, command: `printf '%s' ${ctx.token}` });
    await ctx.tracker.rpc(ctx.client, kind, 'exec.wait', { command_id: st.command_id });
    const o = await ctx.tracker.rpc<{ data: string; eof: boolean; next_offset: number }>(ctx.client, kind, 'exec.output', { command_id: st.command_id });
    expect(o.data === ctx.token && o.eof === true && o.next_offset === ctx.token.length, 'exec.output of a finished command', o);
  },

  ping: async (ctx, kind) => {
    const p = await ctx.tracker.rpc<{ version: string }>(ctx.client, kind, 'system.ping', {});
    expect(typeof p.version === 'string', 'system.ping should give a version', p);
  },
};

/** How often each operation is picked. */
export const MIX: ReadonlyArray<[string, number]> = [
  ['run', 30],
  ['run-exit', 5],
  ['argv', 5],
  ['ephemeral', 5],
  ['session', 8],
  ['background', 10],
  ['stream', 10],
  ['timeout', 4],
  ['cancel', 4],
  ['bulk', 3],
  ['output', 6],
  ['ping', 10],
];
const TOTAL_WEIGHT = MIX.reduce((n, [, w]) => n + w, 0);

export function pickKind(): string {
  let x = Math.random() * TOTAL_WEIGHT;
  for (const [kind, w] of MIX) {
    x -= w;
    if (x < 0) return kind;
  }
  return MIX[0]![0];
}

let counter = 0;
export function runOperation(kind: string, client: TrlClient, pool: SessionPool, tracker: Tracker): Promise<void> {
  const token = `${kind}-${++counter}-${randomBytes(4).toString('hex')}`;
  const op = OPS[kind];
  if (!op) return Promise.reject(new Refused(`no operation ${kind}`));
  return tracker.operation(kind, () => op({ client, pool, tracker, token }, kind));
}
