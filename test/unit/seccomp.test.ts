/**
 * The seccomp policy compiled for both ABIs, run on synthetic seccomp_data by
 * a BPF interpreter (test/helpers/bpf.ts); and the Docker profile generated
 * from the same policy, evaluated with libseccomp's meaning and compared with
 * the filter call by call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ARCH_INFO, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, engineArch, maxSyscall, SECCOMP_ARCHES, X32_SYSCALL_BIT, type SeccompArch } from '../../src/tiers/shared/seccomp/arch.js';
import { compileFilter, seccompFilter } from '../../src/tiers/shared/seccomp/bpf.js';
import { dockerProfile, dockerSeccompProfile, type DockerSeccompProfile } from '../../src/tiers/shared/seccomp/docker-profile.js';
import { seccompLauncher } from '../../src/tiers/shared/seccomp/launcher.js';
import { AF_ALG, AF_UNIX, AF_VSOCK, ENOSYS, EPERM, ruleIndex, seccompPolicy } from '../../src/tiers/shared/seccomp/policy.js';
import { checkProgram, decodeInsns, runFilter, verdict, type Verdict } from '../helpers/bpf.js';

const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const SIGCHLD = 17;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNET = 0x40000000;
const CLONE_NEWNS = 0x00020000;
/** What glibc's pthread_create passes to clone. */
const THREAD_FLAGS = 0x3d0f00;
const ADDR_NO_RANDOMIZE = 0x0040000;
const READ_IMPLIES_EXEC = 0x0400000;

const ALLOW: Verdict = { action: 'allow' };
const DENY: Verdict = { action: 'errno', errno: EPERM };
const NOSYS: Verdict = { action: 'errno', errno: ENOSYS };
const KILL: Verdict = { action: 'kill' };

function filterFor(arch: SeccompArch, blockUnixSockets: boolean) {
  const prog = decodeInsns(seccompFilter({ arch, blockUnixSockets }));
  const nr = (name: string): number => {
    const n = ARCH_INFO[arch].syscalls[name];
    assert.ok(n !== undefined, `${name} is not in the ${arch} table`);
    return n;
  };
  return {
    prog,
    /** The verdict on a native call by number. */
    raw: (number: number, args: Array<number | bigint> = [], auditArch = ARCH_INFO[arch].auditArch) => verdict(runFilter(prog, { nr: number, arch: auditArch, args })),
    /** The verdict on a native call by name. */
    call: (name: string, ...args: Array<number | bigint>) => verdict(runFilter(prog, { nr: nr(name), arch: ARCH_INFO[arch].auditArch, args })),
  };
}

for (const arch of SECCOMP_ARCHES) {
  for (const blockUnixSockets of [true, false]) {
    describe(`seccomp filter, ${arch}, ${blockUnixSockets ? 'Unix sockets blocked' : 'Unix sockets allowed'}`, () => {
      const f = filterFor(arch, blockUnixSockets);

      it('has a shape the kernel accepts and encodes what compileFilter returns', () => {
        checkProgram(f.prog);
        assert.deepEqual(f.prog, compileFilter({ arch, blockUnixSockets }));
      });

      it('allows what ordinary programs do', () => {
        for (const name of [
          'read',
          'write',
          'openat',
          'close',
          'mmap',
          'mprotect',
          'execve',
          'exit_group',
          'wait4',
          'futex',
          'ptrace',
          'prctl',
          'seccomp',
          'getrandom',
          'statx',
          'pipe2',
          'connect',
          'bind',
        ]) {
          assert.deepEqual(f.call(name), ALLOW, name);
        }
        assert.deepEqual(f.call('socketpair', AF_UNIX, 1, 0), ALLOW, 'socketpair(AF_UNIX)');
        assert.deepEqual(f.call('socket', AF_INET, 1, 0), ALLOW, 'socket(AF_INET)');
        assert.deepEqual(f.call('socket', AF_INET6, 2, 0), ALLOW, 'socket(AF_INET6)');
        assert.deepEqual(f.call('socket', AF_NETLINK, 3, 0), ALLOW, 'socket(AF_NETLINK)');
        assert.deepEqual(f.call('clone', THREAD_FLAGS), ALLOW, 'clone for a thread');
        assert.deepEqual(f.call('clone', SIGCHLD), ALLOW, 'clone as fork');
        for (const p of [0, 8, 0x20000, 0x20008, 0xffffffff]) assert.deepEqual(f.call('personality', p), ALLOW, `personality(${p})`);
      });

      it('refuses the keyrings, io_uring, namespaces and the rest of the kernel surface with EPERM', () => {
        for (const name of [
          'keyctl',
          'add_key',
          'request_key',
          'io_uring_setup',
          'io_uring_enter',
          'io_uring_register',
          'bpf',
          'perf_event_open',
          'userfaultfd',
          'kexec_load',
          'init_module',
          'finit_module',
          'mount',
          'umount2',
          'pivot_root',
          'fsopen',
          'fsmount',
          'move_mount',
          'open_tree',
          'mount_setattr',
          'unshare',
          'setns',
          'open_by_handle_at',
          'name_to_handle_at',
          'syslog',
          'reboot',
          'swapon',
          'acct',
          'settimeofday',
          'clock_settime',
          'quotactl',
          'fanotify_init',
        ]) {
          assert.deepEqual(f.call(name), DENY, name);
        }
      });

      it(`refuses socket(AF_UNIX) ${blockUnixSockets ? 'with EPERM' : 'not at all'}, whatever the upper half of the register holds`, () => {
        const expected = blockUnixSockets ? DENY : ALLOW;
        assert.deepEqual(f.call('socket', AF_UNIX, 1, 0), expected);
        assert.deepEqual(f.call('socket', AF_UNIX, 2, 0), expected);
        // the kernel reads the domain as an int: 0x1_00000001 is AF_UNIX to it, so to the filter too
        assert.deepEqual(f.call('socket', 0x1_0000_0001n, 1, 0), expected);
      });

      it('refuses AF_VSOCK and AF_ALG sockets in every mode', () => {
        assert.deepEqual(f.call('socket', AF_VSOCK, 1, 0), DENY);
        assert.deepEqual(f.call('socket', AF_ALG, 5, 0), DENY);
      });

      it('refuses clone with any CLONE_NEW* flag, and clone3 with ENOSYS', () => {
        assert.deepEqual(f.call('clone', CLONE_NEWUSER | SIGCHLD), DENY);
        assert.deepEqual(f.call('clone', CLONE_NEWNET | THREAD_FLAGS), DENY);
        assert.deepEqual(f.call('clone', CLONE_NEWNS), DENY);
        assert.deepEqual(f.call('clone', 0xffff_ffff_0000_0000n | BigInt(SIGCHLD)), ALLOW, 'the kernel ignores the upper half of the flags');
        assert.deepEqual(f.call('clone3', 0, 88), NOSYS);
      });

      it('refuses execution domains other than the harmless ones', () => {
        assert.deepEqual(f.call('personality', ADDR_NO_RANDOMIZE), DENY);
        assert.deepEqual(f.call('personality', READ_IMPLIES_EXEC), DENY);
        assert.deepEqual(f.call('personality', 0x1), DENY);
      });

      it('answers ENOSYS above the table and kills a foreign ABI', () => {
        const max = maxSyscall(arch);
        for (const n of [max + 1, max + 100, 1000, 0x7fffffff, 0xffffffff]) assert.deepEqual(f.raw(n), NOSYS, `number ${n}`);
        if (arch === 'x86_64') {
          assert.deepEqual(f.raw(X32_SYSCALL_BIT | 0), NOSYS, 'x32 read');
          assert.deepEqual(f.raw(X32_SYSCALL_BIT | 520), NOSYS, 'x32 execve');
          assert.deepEqual(f.raw(3, [], AUDIT_ARCH_I386), KILL, 'i386 read');
          assert.deepEqual(f.raw(11, [], AUDIT_ARCH_I386), KILL, 'i386 execve');
        } else {
          assert.deepEqual(f.raw(3, [], AUDIT_ARCH_ARM), KILL, 'arm32 read');
          assert.deepEqual(f.raw(63, [], 0xc000003e), KILL, 'an x86_64 number under arm64');
        }
      });

      it('decides every number of the table as the policy says, and every hole in it as ENOSYS', () => {
        const rules = ruleIndex(seccompPolicy({ blockUnixSockets }));
        const byNumber = new Map(Object.entries(ARCH_INFO[arch].syscalls).map(([name, nr]) => [nr, name]));
        for (let n = 0; n <= maxSyscall(arch) + 2; n++) {
          const name = byNumber.get(n);
          const rule = name === undefined ? undefined : rules.get(name);
          // all-zero arguments pass every argument test of the policy
          const expected: Verdict = name === undefined ? NOSYS : !rule || rule.when ? ALLOW : { action: 'errno', errno: rule.errno };
          assert.deepEqual(f.raw(n), expected, `${arch} ${n} ${name ?? '(unassigned)'}`);
        }
      });
    });
  }
}

describe('seccomp policy', () => {
  it('names only system calls that exist, each in one rule', () => {
    const rules = ruleIndex(seccompPolicy({ blockUnixSockets: true }));
    for (const name of rules.keys()) {
      assert.ok(
        SECCOMP_ARCHES.some((a) => ARCH_INFO[a].syscalls[name] !== undefined),
        `${name} is in no table (a typo would silently allow the call)`,
      );
    }
  });

  it('has tables that agree on the shared generic numbers and reach Linux 6.17', () => {
    for (const arch of SECCOMP_ARCHES) {
      const t = ARCH_INFO[arch].syscalls;
      assert.equal(t.io_uring_setup, 425);
      assert.equal(t.clone3, 435);
      assert.equal(t.file_setattr, 469);
      assert.equal(new Set(Object.values(t)).size, Object.keys(t).length, `${arch}: two names share a number`);
    }
    assert.equal(ARCH_INFO.x86_64.syscalls.keyctl, 250);
    assert.equal(ARCH_INFO.aarch64.syscalls.keyctl, 219);
    assert.equal(ARCH_INFO.x86_64.syscalls.socket, 41);
    assert.equal(ARCH_INFO.aarch64.syscalls.socket, 198);
  });

  it('maps engine architectures', () => {
    assert.equal(engineArch('x86_64'), 'x86_64');
    assert.equal(engineArch('aarch64'), 'aarch64');
    assert.equal(engineArch('arm64'), 'aarch64');
    assert.equal(engineArch('s390x'), null);
  });
});

/**
 * A profile's decision with libseccomp's meaning: the first rule whose name
 * and every condition match (the generator emits no overlapping rules with
 * different actions; checked here), else the default. Arguments are 64-bit.
 */
function profileDecision(profile: DockerSeccompProfile, name: string, args: bigint[]): Verdict {
  const matches = profile.syscalls.filter(
    (s) =>
      s.names.includes(name) &&
      (s.args ?? []).every((c) => {
        const v = args[c.index] ?? 0n;
        assert.equal(c.op, 'SCMP_CMP_MASKED_EQ');
        return (v & BigInt(c.value)) === BigInt(c.valueTwo);
      }),
  );
  const actions = new Set(matches.map((m) => `${m.action}/${m.errnoRet ?? ''}`));
  assert.ok(actions.size <= 1, `${name}: rules with different actions overlap`);
  const m = matches[0];
  if (!m) return { action: 'errno', errno: profile.defaultErrnoRet };
  return m.action === 'SCMP_ACT_ALLOW' ? ALLOW : { action: 'errno', errno: m.errnoRet ?? profile.defaultErrnoRet };
}

describe('Docker seccomp profile', () => {
  const samples = [
    0n,
    1n,
    2n,
    8n,
    10n,
    16n,
    17n,
    37n,
    38n,
    39n,
    40n,
    41n,
    0x20000n,
    0x20008n,
    0xffffffffn,
    0x3d0f00n,
    BigInt(CLONE_NEWUSER | SIGCHLD),
    BigInt(ADDR_NO_RANDOMIZE),
    0x1_0000_0001n,
    0x1_0000_0028n,
    0x8000_0000n,
    0xffff_ffff_0000_0011n,
  ];

  for (const arch of SECCOMP_ARCHES) {
    for (const blockUnixSockets of [true, false]) {
      it(`decides like the ${arch} filter, ${blockUnixSockets ? 'Unix sockets blocked' : 'Unix sockets allowed'}, for every call of the table`, () => {
        const profile = dockerProfile({ arch, blockUnixSockets });
        const f = filterFor(arch, blockUnixSockets);
        for (const name of Object.keys(ARCH_INFO[arch].syscalls)) {
          for (const a0 of samples) {
            assert.deepEqual(profileDecision(profile, name, [a0]), f.call(name, a0), `${name}(0x${a0.toString(16)})`);
          }
        }
      });
    }
  }

  it('is an allowlist for the native ABI only, refusing with EPERM by default and clone3 with ENOSYS', () => {
    const p = JSON.parse(dockerSeccompProfile({ arch: 'x86_64', blockUnixSockets: true })) as DockerSeccompProfile;
    assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(p.defaultErrnoRet, EPERM);
    assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64']);
    const allowed = new Set(p.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names));
    assert.ok(allowed.has('read') && allowed.has('execve') && allowed.has('socketpair'));
    for (const refused of ['keyctl', 'io_uring_setup', 'unshare', 'mount', 'clone3', 'socket', 'clone', 'personality']) assert.ok(!allowed.has(refused), `${refused} allowed unconditionally`);
    assert.deepEqual(
      p.syscalls.find((s) => s.names.includes('clone3')),
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    );
    assert.deepEqual(dockerProfile({ arch: 'aarch64', blockUnixSockets: false }).architectures, ['SCMP_ARCH_AARCH64']);
  });
});

describe('seccomp launcher argv', () => {
  const filter = seccompFilter({ arch: 'x86_64', blockUnixSockets: true });

  it('runs perl by absolute path, taint-checked, the filter in hex, then cwd and the command', () => {
    const argv = seccompLauncher({ filter, cwd: '/work', argv: ['-weird', 'a b'], arch: 'x86_64', perl: '/usr/bin/perl' });
    assert.deepEqual(argv.slice(0, 4), ['/usr/bin/perl', '-t', '-C0', '-e']);
    assert.deepEqual(argv.slice(5), ['--', filter.toString('hex'), '/work', '-weird', 'a b']);
    assert.match(argv[4]!, /syscall\(317,1,0,\$p\)/, 'x86_64 seccomp number');
    assert.match(seccompLauncher({ filter, cwd: '/', argv: ['true'], arch: 'aarch64' })[4]!, /syscall\(277,1,0,\$p\)/, 'aarch64 seccomp number');
    assert.doesNotMatch(argv[4]!, /\buse\b|\brequire\b/, 'no module is loaded');
  });

  it('refuses a perl looked up in PATH, an empty command and a broken filter', () => {
    assert.throws(() => seccompLauncher({ filter, cwd: '/', argv: ['true'], perl: 'perl' }), /absolute path/);
    assert.throws(() => seccompLauncher({ filter, cwd: '/', argv: [] }), /a command/);
    assert.throws(() => seccompLauncher({ filter: filter.subarray(0, 12), cwd: '/', argv: ['true'] }), /not a seccomp filter/);
  });
});
