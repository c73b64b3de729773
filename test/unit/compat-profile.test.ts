/**
 * The compatibility profiles (src/compat/): `--compat claw-core` and
 * `TRL_COMPAT` select claw-core's, nothing selects trl's own; what each answers
 * for a finished exec.run; the stand-in binary's translation of claw-core's
 * flags; and the Rust-type decoder the client tests rely on, which must refuse
 * what serde_json refuses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLAW_CORE_PROFILE } from '../../src/compat/claw-core.js';
import { translateArgs } from '../../src/compat/claw-core-daemon.js';
import { NATIVE_PROFILE, profileOf } from '../../src/compat/profile.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import type { ExecResult } from '../../src/protocol/exec.js';
import { TrlError } from '../../src/protocol/errors.js';
import { decodeProblems, parseStructs } from '../helpers/rust-types.js';

function result(over: Partial<ExecResult>): ExecResult {
  return {
    command_id: 'c',
    stdout: 'out\n',
    stderr: '',
    encoding: 'utf8',
    exit_code: 0,
    signal: null,
    duration_ms: 12,
    timed_out: false,
    idle_timed_out: false,
    oom_killed: false,
    stdout_truncated_bytes: 0,
    stderr_truncated_bytes: 0,
    stdout_invalid_utf8: false,
    stderr_invalid_utf8: false,
    stdout_bytes: 4,
    stderr_bytes: 0,
    working_dir: '/tmp',
    running: false,
    ...over,
  };
}

describe('profileOf', () => {
  it('is trl itself unless --compat or TRL_COMPAT names a profile', () => {
    assert.equal(profileOf(loadConfig({}, {})), NATIVE_PROFILE);
    assert.equal(profileOf(loadConfig({ compat: 'claw-core' }, {})), CLAW_CORE_PROFILE);
    assert.equal(profileOf(loadConfig({}, { TRL_COMPAT: 'claw-core' })), CLAW_CORE_PROFILE);
  });

  it('refuses an unknown profile, naming the variable', () => {
    assert.throws(
      () => loadConfig({}, { TRL_COMPAT: 'claw' }),
      (e: unknown) => e instanceof ConfigError && /^TRL_COMPAT: .*claw-core/.test(e.message),
    );
  });

  it("claw-core's defaults: /tmp/trl.sock, sessions in /tmp, no state carried, any shell, names not unique", () => {
    assert.equal(CLAW_CORE_PROFILE.socketPath, '/tmp/trl.sock');
    assert.equal(CLAW_CORE_PROFILE.workingDir, '/tmp');
    assert.equal(CLAW_CORE_PROFILE.persistState, false);
    assert.equal(CLAW_CORE_PROFILE.shellAsProgram, true);
    assert.equal(CLAW_CORE_PROFILE.uniqueNames, false);
    assert.deepEqual([NATIVE_PROFILE.socketPath, NATIVE_PROFILE.workingDir, NATIVE_PROFILE.persistState, NATIVE_PROFILE.shellAsProgram, NATIVE_PROFILE.uniqueNames], [null, null, true, false, true]);
  });
});

describe('runResult', () => {
  it('native: every result as it is (a timeout is timed_out: true, a signal 128+N)', () => {
    for (const r of [result({}), result({ timed_out: true, exit_code: 143, signal: 'SIGTERM' }), result({ exit_code: 137, signal: 'SIGKILL' })]) {
      assert.deepEqual(NATIVE_PROFILE.runResult(r), r);
    }
  });

  it('claw-core: a timeout is the error COMMAND_TIMEOUT "command timed out…", its result (output so far) in details', () => {
    const r = result({ stdout: 'so far\n', timed_out: true, exit_code: 143, signal: 'SIGTERM' });
    assert.throws(
      () => CLAW_CORE_PROFILE.runResult(r),
      (e: unknown) => {
        assert.ok(e instanceof TrlError);
        assert.equal(e.code, 'COMMAND_TIMEOUT');
        assert.match(e.message, /^command timed out/);
        assert.equal((e.details?.['result'] as ExecResult).stdout, 'so far\n');
        assert.equal((e.details?.['result'] as ExecResult).exit_code, -1);
        return true;
      },
    );
    assert.throws(() => CLAW_CORE_PROFILE.runResult(result({ timed_out: true, idle_timed_out: true })), /printed nothing for idle_timeout_s/);
  });

  it('claw-core: a signal death is exit_code -1; an exit status, even 137, stays', () => {
    assert.equal(CLAW_CORE_PROFILE.runResult(result({ exit_code: 137, signal: 'SIGKILL' })).exit_code, -1);
    assert.equal(CLAW_CORE_PROFILE.runResult(result({ exit_code: 137 })).exit_code, 137);
    assert.equal(CLAW_CORE_PROFILE.runResult(result({ exit_code: 3 })).exit_code, 3);
  });
});

describe("trl-claw-core's command line", () => {
  it("maps claw-core's flags onto trl serve --compat claw-core, dropping those trl lacks with a warning", () => {
    const t = translateArgs(['--socket-path', '/tmp/x.sock', '--max-idle-sec=60', '--child-nproc', '64', '--allow-root', '--memory-pressure-mb=500', '--max-sessions', '8']);
    assert.deepEqual(t.args, ['serve', '--compat', 'claw-core', '--socket-path', '/tmp/x.sock', '--max-idle-sec=60', '--allow-root', '--max-sessions', '8']);
    assert.equal(t.warnings.length, 2);
    assert.match(t.warnings[0]!, /--child-nproc .*limits\.pids/);
    assert.match(t.warnings[1]!, /--memory-pressure-mb/);
    assert.deepEqual(translateArgs([]).args, ['serve', '--compat', 'claw-core']);
  });
});

describe('the Rust-type decoder of the client tests', () => {
  const structs = parseStructs(`
    #[derive(Debug, Deserialize)]
    pub struct Inner {
        pub code: String,
    }
    #[derive(Debug, Deserialize)]
    pub struct Outer {
        pub uptime_s: u64,
        #[serde(default)]
        pub exit_code: i32,
        pub name: Option<String>,
        #[serde(default)]
        pub keys: Vec<String>,
        pub env: Option<HashMap<String, String>>,
        pub inner: Inner,
        pub any: serde_json::Value,
    }
  `);
  const good = { uptime_s: 5, exit_code: -1, name: null, keys: ['A'], env: { A: 'b' }, inner: { code: 'X', extra: 1 }, any: 1.5 };

  it('accepts what serde_json accepts: integers, null Options, absent defaults, unknown fields', () => {
    assert.deepEqual(decodeProblems(structs, 'Outer', good), []);
    const { exit_code: _e, keys: _k, name: _n, env: _v, ...minimal } = good;
    assert.deepEqual(decodeProblems(structs, 'Outer', minimal), []);
  });

  it('refuses a decimal for an integer, a negative u64, a null non-Option, a missing field, a wrong type', () => {
    assert.match(decodeProblems(structs, 'Outer', { ...good, uptime_s: 657.15 }).join(), /uptime_s: expected an integer \(u64\)/);
    assert.match(decodeProblems(structs, 'Outer', { ...good, uptime_s: -1 }).join(), /uptime_s: expected a u64 in range/);
    assert.match(decodeProblems(structs, 'Outer', { ...good, exit_code: null }).join(), /exit_code: expected an integer \(i32\)/);
    assert.match(decodeProblems(structs, 'Outer', { ...good, exit_code: 2 ** 31 }).join(), /exit_code: expected a i32 in range/);
    const { inner: _i, ...noInner } = good;
    assert.match(decodeProblems(structs, 'Outer', noInner).join(), /inner: missing field of Outer/);
    assert.match(decodeProblems(structs, 'Outer', { ...good, keys: [1] }).join(), /keys\[0\]: expected a string/);
    assert.match(decodeProblems(structs, 'Outer', { ...good, inner: { code: 1 } }).join(), /inner\.code: expected a string/);
  });
});
