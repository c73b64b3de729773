/**
 * PROTOCOL §6 exec.run result: separate streams, exact exit codes, signals,
 * timeouts, idle timeouts, the head+tail output cap, encodings, stdin, check.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { expectCode } from './helpers/client.js';
import { useDaemon } from './helpers/fixture.js';
import { assertSameString } from './helpers/same-string.js';

const RESULT_KEYS = [
  'command_id',
  'stdout',
  'stderr',
  'encoding',
  'exit_code',
  'signal',
  'duration_ms',
  'timed_out',
  'idle_timed_out',
  'oom_killed',
  'stdout_truncated_bytes',
  'stderr_truncated_bytes',
  'stdout_invalid_utf8',
  'stderr_invalid_utf8',
  'stdout_bytes',
  'stderr_bytes',
  'working_dir',
  'running',
].sort();

/** What `seq from to` prints when every number has `width` digits. */
function seqW(from: number, to: number, width: number): string {
  const parts: string[] = [];
  for (let i = from; i <= to; i++) parts.push(String(i).padStart(width, '0') + '\n');
  return parts.join('');
}

/**
 * Assert `got` is `full`'s first K characters, optionally a short marker, then
 * its last (kept - K) characters, for some K: the middle was dropped and
 * exactly `kept` bytes of the real output were returned.
 */
function assertHeadTail(got: string, full: string, kept: number): void {
  assert.ok(got.startsWith(full.slice(0, 1024)), `output does not start with the start of the output: ${JSON.stringify(got.slice(0, 80))}`);
  assert.ok(got.endsWith(full.slice(-1024)), `output does not end with the end of the output: ${JSON.stringify(got.slice(-80))}`);
  let h = 0;
  while (h < got.length && got.charCodeAt(h) === full.charCodeAt(h)) h++;
  let t = 0;
  while (t < got.length && got.charCodeAt(got.length - 1 - t) === full.charCodeAt(full.length - 1 - t)) t++;
  for (let k = Math.min(h, kept); k >= Math.max(0, h - 64); k--) {
    const tail = kept - k;
    const marker = got.length - k - tail;
    if (tail >= 0 && t >= tail && marker >= 0 && marker <= 256) return;
  }
  assert.fail(`output is not head+tail of the real output with ${kept} bytes kept: length ${got.length}, common prefix ${h}, common suffix ${t}`);
}

describe('exec.run result', () => {
  const { c } = useDaemon();
  let sid: string;

  before(async () => {
    sid = (await c.call('session.create', {})).session_id;
  });

  const run = (command: string, extra: Record<string, unknown> = {}) => c.call('exec.run', { session_id: sid, command, ...extra });

  it('has exactly the documented fields, with the documented types', async () => {
    const t0 = Date.now();
    const r = await run('echo hi');
    const wall = Date.now() - t0;
    assert.deepEqual(Object.keys(r).sort(), RESULT_KEYS);
    assert.equal(typeof r.command_id, 'string');
    assert.ok(r.command_id.length >= 8);
    assert.equal(r.encoding, 'utf8');
    assert.equal(r.exit_code, 0);
    assert.equal(r.signal, null);
    // measured by the daemon, inside the round trip the client saw
    assert.ok(Number.isInteger(r.duration_ms) && r.duration_ms >= 0 && r.duration_ms <= wall, `duration_ms ${r.duration_ms} for a ${wall} ms round trip`);
    assert.equal(r.timed_out, false);
    assert.equal(r.idle_timed_out, false);
    assert.equal(r.oom_killed, false);
    assert.equal(r.running, false);
    assert.equal(r.stdout_truncated_bytes, 0);
    assert.equal(r.stderr_truncated_bytes, 0);
    const r2 = await run('true');
    assert.notEqual(r2.command_id, r.command_id, 'command ids must be unique');
  });

  it('keeps stdout and stderr separate, with exact byte counts', async () => {
    const r = await run('echo out1; echo err1 >&2; printf out2; printf "err2\\n" >&2');
    assert.equal(r.stdout, 'out1\nout2');
    assert.equal(r.stderr, 'err1\nerr2\n');
    assert.equal(r.stdout_bytes, 9);
    assert.equal(r.stderr_bytes, 10);
  });

  it('commands can write to /dev/stdout and /dev/stderr by name (as many scripts do)', async () => {
    const r = await run('echo to-out >/dev/stdout; echo to-err >/dev/stderr; echo tee-d | tee /dev/stderr');
    assert.equal(r.stderr, 'to-err\ntee-d\n');
    assert.equal(r.stdout, 'to-out\ntee-d\n');
    assert.equal(r.exit_code, 0);
  });

  it('reports exit codes exactly', async () => {
    for (const code of [0, 1, 2, 3, 42, 126, 127, 128, 200, 255]) {
      const r = await run(`exit ${code}`);
      assert.equal(r.exit_code, code, `exit ${code}`);
      assert.equal(r.signal, null);
    }
    const nf = await run('/no/such/program-xyz');
    assert.equal(nf.exit_code, 127);
    assert.match(nf.stderr, /not found|No such file/);
  });

  it('a command killed by signal N reports 128+N and names the signal', async () => {
    const k = await run('echo before; kill -KILL $$; echo after');
    assert.equal(k.exit_code, 137);
    assert.equal(k.signal, 'SIGKILL');
    assert.equal(k.stdout, 'before\n');
    assert.equal(k.timed_out, false);
    const t = await run('kill -TERM $$');
    assert.equal(t.exit_code, 143);
    assert.equal(t.signal, 'SIGTERM');
    const s = await run('kill -SEGV $$');
    assert.equal(s.exit_code, 139);
    assert.equal(s.signal, 'SIGSEGV');
  });

  it('a shell that exits with 137 by itself is an exit, not a signal', async () => {
    const r = await run('sleep 10 & kill -KILL $!; wait $!');
    assert.equal(r.exit_code, 137);
    assert.equal(r.signal, null);
  });

  it('a timeout kills the command, sets timed_out and keeps the output printed before it', async () => {
    const t0 = Date.now();
    const r = await run('echo before; echo err-before >&2; sleep 10; echo after', { timeout_s: 1 });
    const wall = Date.now() - t0;
    assert.equal(r.timed_out, true);
    assert.equal(r.idle_timed_out, false);
    assert.equal(r.stdout, 'before\n');
    assert.equal(r.stderr, 'err-before\n');
    assert.equal(r.signal, 'SIGTERM');
    assert.equal(r.exit_code, 143);
    assert.ok(r.duration_ms >= 950 && r.duration_ms <= wall, `duration_ms = ${r.duration_ms} (round trip ${wall} ms, timeout 1 s)`);
  });

  it('fractional timeouts work and a command that ends in time is not timed out', async () => {
    const r = await run('sleep 0.1; echo done', { timeout_s: 2.5 });
    assert.equal(r.timed_out, false);
    assert.equal(r.stdout, 'done\n');
    const r2 = await run('sleep 5', { timeout_s: 0.5 });
    assert.equal(r2.timed_out, true);
    assert.ok(r2.duration_ms >= 450, `timed out after duration_ms = ${r2.duration_ms}, before its 0.5 s`);
    assert.equal(r2.signal, 'SIGTERM', 'the 0.5 s timeout, not the end of `sleep 5`, ended the command');
  });

  it('the session timeout_s is the default; timeout_s: 0 on the command means none', async () => {
    const s = await c.call('session.create', { timeout_s: 1 });
    assert.equal(s.timeout_s, 1);
    const r = await c.call('exec.run', { session_id: s.session_id, command: 'sleep 5' });
    assert.equal(r.timed_out, true);
    const r2 = await c.call('exec.run', { session_id: s.session_id, command: 'sleep 1.5; echo survived', timeout_s: 0 });
    assert.equal(r2.timed_out, false);
    assert.equal(r2.stdout, 'survived\n');
    await c.call('session.destroy', { session_id: s.session_id, force: true });
  });

  it('idle_timeout_s kills a command that prints nothing for that long', async () => {
    const r = await run('echo a; sleep 10; echo b', { idle_timeout_s: 1 });
    assert.equal(r.idle_timed_out, true);
    assert.equal(r.timed_out, true, 'an idle timeout is a timeout too');
    assert.equal(r.stdout, 'a\n');
    assert.notEqual(r.signal, null, 'the idle timeout, not the end of `sleep 10`, ended the command');
  });

  it('idle_timeout_s does not fire while the command keeps printing', async () => {
    const r = await run('for i in 1 2 3 4; do echo $i; sleep 0.4; done', { idle_timeout_s: 1 });
    assert.equal(r.idle_timed_out, false);
    assert.equal(r.timed_out, false);
    assert.equal(r.exit_code, 0);
    assert.equal(r.stdout, '1\n2\n3\n4\n');
  });

  it('10 MiB of output with a 1 MiB cap returns head and tail and the exact dropped count', async () => {
    // seq -w 1 1310720: 1310720 lines of 7 digits + \n = exactly 10 MiB
    const full = seqW(1, 1310720, 7);
    assert.equal(full.length, 10 * 1024 * 1024);
    const r = await run('seq -w 1 1310720', { max_output_bytes: 1048576 });
    assert.equal(r.exit_code, 0);
    assert.equal(r.stdout_truncated_bytes, 10 * 1024 * 1024 - 1024 * 1024);
    assert.equal(r.stdout_bytes, 10 * 1024 * 1024, 'stdout_bytes counts every byte the command wrote');
    assert.equal(r.stderr_truncated_bytes, 0);
    assertHeadTail(r.stdout, full, 1048576);
  });

  it('the cap applies per stream (stderr too) and is exact at the boundary', async () => {
    // seq 1000001 1008192: 8192 lines * 8 bytes = 65536 bytes: exactly at a 64 KiB cap -> nothing dropped
    const exact = seqW(1000001, 1008192, 7);
    assert.equal(exact.length, 65536);
    const r1 = await run('seq 1000001 1008192 >&2', { max_output_bytes: 65536 });
    assert.equal(r1.stderr_truncated_bytes, 0);
    assertSameString(r1.stderr, exact, 'stderr');
    assert.equal(r1.stderr_bytes, 65536);
    // one byte more -> exactly one byte dropped
    const r2 = await run('seq 1000001 1008192 >&2; printf x >&2', { max_output_bytes: 65536 });
    assert.equal(r2.stderr_truncated_bytes, 1);
    assert.equal(r2.stderr_bytes, 65537);
    assertHeadTail(r2.stderr, exact + 'x', 65536);
    // stdout untouched by the stderr cap
    const r3 = await run('seq 1000001 1020000 >&2; echo small', { max_output_bytes: 65536 });
    assert.equal(r3.stdout, 'small\n');
    assert.equal(r3.stdout_truncated_bytes, 0);
    assert.equal(r3.stderr_truncated_bytes, 20000 * 8 - 65536);
    assertHeadTail(r3.stderr, seqW(1000001, 1020000, 7), 65536);
  });

  it('invalid UTF-8 comes back as U+FFFD in utf8 and byte-exact in base64', async () => {
    const u = await run("printf '\\377\\376abc'; printf '\\377x' >&2");
    assert.equal(u.encoding, 'utf8');
    assert.equal(u.stdout, '\uFFFD\uFFFDabc');
    assert.equal(u.stderr, '\uFFFDx');
    assert.equal(u.stdout_bytes, 5);
    const b = await run("printf '\\377\\376abc'; printf '\\377x' >&2", { encoding: 'base64' });
    assert.equal(b.encoding, 'base64');
    assert.deepEqual([...Buffer.from(b.stdout, 'base64')], [0xff, 0xfe, 0x61, 0x62, 0x63]);
    assert.deepEqual([...Buffer.from(b.stderr, 'base64')], [0xff, 0x78]);
  });

  it('multi-byte characters split across pipe reads survive utf8 decoding', async () => {
    // 10 bytes per line; 200000 bytes cross many 4/64 KiB read boundaries at odd offsets
    const r = await run("yes 'é€😀' | head -n 20000");
    assert.equal(r.stdout_bytes, 200000);
    assert.ok(!r.stdout.includes('\uFFFD'), 'a character split across chunks was replaced by U+FFFD');
    assertSameString(r.stdout, 'é€😀\n'.repeat(20000), 'stdout');
  });

  it('a character cut by the head/tail boundary of a buffer that dropped nothing comes back whole', async () => {
    // max_output_bytes 1024: head 512 bytes, tail 512. `a`, 511 × `é` (2 bytes), `b` is 1024 bytes: byte 512 is the
    // second half of an `é`, so the head ends inside a character though the output is complete and valid.
    const expected = `a${'é'.repeat(511)}b`;
    for (const params of [{}, { yield_after_s: 60 }]) {
      const r = await run(`printf a; i=0; while [ $i -lt 511 ]; do printf '\\303\\251'; i=$((i+1)); done; printf b`, { max_output_bytes: 1024, ...params });
      assert.equal(r.stdout_bytes, 1024);
      assert.equal(r.stdout_truncated_bytes, 0);
      assert.equal(r.stdout_invalid_utf8, false, 'valid output was reported invalid');
      assertSameString(r.stdout, expected, 'stdout');
    }
  });

  it('base64 output of binary data is byte-exact', async () => {
    const r = await run('t=$(mktemp); head -c 300000 /dev/urandom >"$t"; cat "$t" >&2; sha256sum <"$t" | cut -c1-64; rm -f "$t"', {
      encoding: 'base64',
    });
    const hash = Buffer.from(r.stdout, 'base64').toString('utf8').trim();
    const bytes = Buffer.from(r.stderr, 'base64');
    assert.equal(bytes.length, 300000);
    const { createHash } = await import('node:crypto');
    assert.equal(createHash('sha256').update(bytes).digest('hex'), hash);
  });

  it('stdin is written then closed; without it stdin is /dev/null', async () => {
    const r = await run('cat; echo "|"', { stdin: 'hello\nworld' });
    assert.equal(r.stdout, 'hello\nworld|\n');
    const r2 = await run('readlink /proc/self/fd/0; cat; echo end');
    assert.equal(r2.stdout, '/dev/null\nend\n');
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 13]);
    const r3 = await run('cat', { stdin: bytes.toString('base64'), stdin_encoding: 'base64', encoding: 'base64' });
    assert.deepEqual([...Buffer.from(r3.stdout, 'base64')], [...bytes]);
    const big = 'x'.repeat(200_000);
    const r4 = await run('wc -c', { stdin: big });
    assert.equal(r4.stdout.trim(), '200000');
  });

  it('check: true turns a non-zero exit into COMMAND_FAILED carrying the result', async () => {
    const ok = await run('echo fine', { check: true });
    assert.equal(ok.stdout, 'fine\n');
    const e = await expectCode(c, 'exec.run', { session_id: sid, command: 'echo partial; exit 4', check: true }, 'COMMAND_FAILED');
    const details = (e.details ?? {}) as Record<string, any>;
    const res = (details['result'] ?? details) as Record<string, unknown>;
    assert.equal(res['exit_code'], 4);
    assert.equal(res['stdout'], 'partial\n');
    assert.match(e.message, /4/);
    // without check the same command is a success
    const r = await run('exit 4');
    assert.equal(r.exit_code, 4);
  });

  it('argv mode: no shell, exact arguments, SPAWN_FAILED for a missing program', async () => {
    const r = await c.call('exec.run', { session_id: sid, argv: ['printf', '%s\\n', '$HOME', 'a  b', '*', ';echo pwned'] });
    assert.equal(r.stdout, '$HOME\na  b\n*\n;echo pwned\n');
    assert.equal(r.exit_code, 0);
    const e = await expectCode(c, 'exec.run', { session_id: sid, argv: ['/no/such/binary-xyz', 'a'] }, 'SPAWN_FAILED');
    assert.match(e.message, /binary-xyz/);
    // the session is still usable afterwards
    assert.equal((await run('echo still')).stdout, 'still\n');
  });

  it('command env is visible to the command; env names with values containing = and newlines pass exactly', async () => {
    const r = await run('printf "%s|%s" "$E1" "$E2"', { env: { E1: 'a=b=c', E2: 'line1\nline2' } });
    assert.equal(r.stdout, 'a=b=c|line1\nline2');
  });
});
