/**
 * The Perl seccomp launcher on the real kernel: real programs run under the
 * compiled filter, what the policy refuses fails with the errno it names, and
 * the same probe without the filter shows the kernel itself would have
 * allowed it (where it would not, that comparison is skipped with the reason).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ARCH_INFO, nativeArch } from '../src/tiers/shared/seccomp/arch.js';
import { seccompFilter } from '../src/tiers/shared/seccomp/bpf.js';
import { seccompLauncher } from '../src/tiers/shared/seccomp/launcher.js';
import { makeTempDir } from './helpers/daemon.js';
import { waitFor } from './helpers/wait.js';

const arch = nativeArch();
const which = (cmd: string): string | null => {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
};
const PERL = which('perl');
const PYTHON = which('python3') && spawnSync('python3', ['-c', 'pass']).status === 0 ? 'python3' : null;
const skipAll = !arch ? `seccomp filters are built for x86_64 and aarch64 Linux; this is ${process.platform}/${process.arch}` : !PERL ? 'perl is not installed (apt-get install -y perl-base)' : false;
if (skipAll) console.log(`# skipping the seccomp launcher tests: ${skipAll}`);

const nr = (name: string): number => ARCH_INFO[arch!].syscalls[name]!;
const EPERM_TEXT = 'Operation not permitted';

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** What the command wrote to descriptor 3, when one was given. */
  fd3: string;
}

interface RunOptions {
  /** Refuse socket(AF_UNIX) (default true). */
  block?: boolean;
  /** Run without the launcher: the control. */
  bare?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Give the command a pipe on descriptor 3. */
  fd3?: boolean;
}

const filters = arch ? { blocked: seccompFilter({ arch, blockUnixSockets: true }), open: seccompFilter({ arch, blockUnixSockets: false }) } : null;

function run(argv: string[], o: RunOptions = {}): Promise<Ran> {
  const cwd = o.cwd ?? '/';
  const full = o.bare ? argv : seccompLauncher({ filter: o.block === false ? filters!.open : filters!.blocked, cwd, argv, perl: PERL! });
  const child = spawn(full[0]!, full.slice(1), { cwd: o.bare ? cwd : '/', env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe', o.fd3 ? 'pipe' : 'ignore'] });
  const collect = (s: Readable | null | undefined) => {
    const parts: Buffer[] = [];
    s?.on('data', (c: Buffer) => parts.push(c));
    return new Promise<string>((resolve) => (s ? s.on('close', () => resolve(Buffer.concat(parts).toString('utf8'))) : resolve('')));
  };
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const fd3 = collect(o.fd3 ? (child.stdio[3] as Readable) : null);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => void Promise.all([out, err, fd3]).then(([stdout, stderr, fd3Text]) => resolve({ code, signal, stdout, stderr, fd3: fd3Text }), reject));
  });
}

/** A perl one-liner, under the filter unless `bare`. */
const perl = (code: string, args: string[] = [], o: RunOptions = {}) => run([PERL!, '-e', code, ...args], o);

/** Perl that calls a system call with integer arguments (numified: a string would be passed as a pointer) and prints `ok <ret>` or `errno <n> <text>`. */
const SYSCALL_PROBE = 'my @a = map { $_ + 0 } @ARGV; my $r = syscall(shift @a, @a); print $r < 0 ? "errno " . ($!+0) . " $!\\n" : "ok $r\\n"';
const probeSyscall = (args: Array<number | string>, o: RunOptions = {}) => perl(SYSCALL_PROBE, args.map(String), o);

/** Skip the "without the filter it works" half of a test when the kernel refuses the call itself. */
function controlOk(t: TestContext, what: string, control: Ran, works: boolean): boolean {
  if (works) return true;
  t.diagnostic(`without the filter ${what} fails here too (${JSON.stringify(control.stdout + control.stderr).slice(0, 200)}): the comparison is skipped`);
  return false;
}

describe('seccomp launcher on the real kernel', { skip: skipAll }, () => {
  let dir = '';
  before(() => {
    dir = fs.realpathSync(makeTempDir('/tmp/trl-seccomp-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs a shell pipeline, with the filter and no_new_privs in place', async () => {
    const r = await run(['sh', '-c', 'echo a | cat; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^a\n/);
    assert.match(r.stdout, /NoNewPrivs:\s+1/);
    assert.match(r.stdout, /Seccomp:\s+2/, 'mode 2 is a seccomp filter');
  });

  it('enters the working directory, and passes descriptors and the environment through', async () => {
    fs.writeFileSync(path.join(dir, 'here.txt'), 'here\n');
    const r = await run(['sh', '-c', 'pwd -P; cat ./here.txt; echo "$TRL_PROBE_VAR" >&3'], { cwd: dir, fd3: true, env: { ...process.env, TRL_PROBE_VAR: 'kept' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${dir}\nhere\n`);
    assert.equal(r.fd3, 'kept\n');
  });

  it('exits 125 with a message when the working directory cannot be entered, 127 and 126 when the command cannot run', async () => {
    const missing = path.join(dir, 'no-such-dir');
    const bad = await run(['sh', '-c', 'echo ran'], { cwd: missing });
    assert.equal(bad.code, 125);
    assert.equal(bad.stdout, '', 'the command did not run');
    assert.equal(bad.stderr, `trl: cannot enter the working directory ${missing}: No such file or directory\n`);
    const notFound = await run(['trl-no-such-program-xyz']);
    assert.equal(notFound.code, 127);
    assert.match(notFound.stderr, /trl: cannot run trl-no-such-program-xyz: No such file or directory/);
    const plain = path.join(dir, 'not-executable');
    fs.writeFileSync(plain, 'echo no\n', { mode: 0o644 });
    const notExec = await run([plain]);
    assert.equal(notExec.code, 126);
    assert.match(notExec.stderr, /Permission denied/);
  });

  it('ignores PERL5OPT and PERL5DB (code the environment would run before the filter) yet leaves them to the command', async () => {
    const env = { ...process.env, PERL5OPT: '-d', PERL5DB: 'BEGIN { print STDERR "HIJACKED\\n" }' };
    const control = await run([PERL!, '-e', '1'], { bare: true, env });
    assert.match(control.stderr, /HIJACKED/, 'the hijack works on a plain perl (the test would prove nothing otherwise)');
    const r = await run(['sh', '-c', 'echo "$PERL5OPT"'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /HIJACKED/);
    assert.equal(r.stdout, '-d\n');
  });

  describe('Unix sockets', () => {
    let server: net.Server;
    let sockPath = '';
    const seen: string[] = [];
    before(async () => {
      sockPath = path.join(dir, 'listen.sock');
      server = net.createServer((c) => {
        c.once('data', (d) => seen.push(d.toString()));
        c.on('error', () => {});
      });
      await new Promise<void>((resolve) => server.listen(sockPath, resolve));
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const CONNECT = 'socket(my $s, 1, 1, 0) or die "socket: $!\\n"; connect($s, pack("S a*", 1, $ARGV[0])) or die "connect: $!\\n"; syswrite($s, $ARGV[1]); print "connected\\n"';

    /** Connections are accepted in order: once this one is seen, any earlier attempt would have been too. */
    async function sentinel(): Promise<void> {
      const tag = `sentinel-${Math.random()}`;
      const c = net.createConnection(sockPath, () => c.end(tag));
      assert.ok(await waitFor(() => seen.includes(tag)), 'the sentinel connection reached the server');
    }

    it('refuses socket(AF_UNIX) with EPERM when blocking: a real listening socket is not reached', async () => {
      const r = await perl(CONNECT, [sockPath, 'blocked-probe']);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr, `socket: ${EPERM_TEXT}\n`);
      await sentinel();
      assert.ok(!seen.includes('blocked-probe'), 'the server saw no connection from the filtered probe');
    });

    it('connects when Unix sockets are allowed', async () => {
      const r = await perl(CONNECT, [sockPath, 'open-probe'], { block: false });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'connected\n');
      assert.ok(await waitFor(() => seen.includes('open-probe')), 'the server received the probe');
    });

    it('refuses it to python too (skipped without python3)', async (t) => {
      if (!PYTHON) return t.skip('python3 is not installed');
      const code = 'import socket,sys\ntry:\n  socket.socket(socket.AF_UNIX).connect(sys.argv[1])\n  print("connected")\nexcept OSError as e:\n  print("errno", e.errno)';
      assert.equal((await run([PYTHON, '-c', code, sockPath])).stdout, 'errno 1\n');
      assert.equal((await run([PYTHON, '-c', code, sockPath], { block: false })).stdout, 'connected\n');
    });

    it('leaves socketpair working', async () => {
      const r = await perl('socketpair(my $a, my $b, 1, 1, 0) or die "socketpair: $!\\n"; syswrite($a, "ping"); sysread($b, my $got, 4); print "$got\\n"');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'ping\n');
    });

    it('holds in a grandchild: the filter is inherited', async () => {
      const r = await run(['sh', '-c', `sh -c 'grep "^Seccomp:" /proc/self/status'; ${PERL} -e 'socket(my $s, 1, 1, 0) or die "child socket: $!\\n"'`]);
      assert.match(r.stdout, /Seccomp:\s+2/);
      assert.match(r.stderr, new RegExp(`child socket: ${EPERM_TEXT}`));
      assert.notEqual(r.code, 0);
    });
  });

  it('refuses keyctl with EPERM', async (t) => {
    // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, create=1)
    const args = [nr('keyctl'), 0, -3, 1];
    assert.equal((await probeSyscall(args)).stdout, `errno 1 ${EPERM_TEXT}\n`);
    const control = await probeSyscall(args, { bare: true });
    if (controlOk(t, 'keyctl', control, control.stdout.startsWith('ok'))) assert.match(control.stdout, /^ok \d+/);
  });

  it('refuses io_uring_setup with EPERM', async (t) => {
    // io_uring_setup(4 entries, a zeroed struct io_uring_params of 120 bytes)
    const code = `my $p = "\\0" x 120; my $r = syscall(${nr('io_uring_setup')}, 4, $p); print $r < 0 ? "errno " . ($!+0) . "\\n" : "ok\\n"`;
    assert.equal((await perl(code)).stdout, 'errno 1\n');
    const control = await perl(code, [], { bare: true });
    if (controlOk(t, 'io_uring_setup', control, control.stdout === 'ok\n')) assert.equal(control.stdout, 'ok\n');
  });

  it('refuses user namespaces: unshare -U fails', async (t) => {
    if (!which('unshare')) return t.skip('unshare(1) is not installed (apt-get install -y util-linux)');
    const r = await run(['unshare', '-U', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(EPERM_TEXT));
    const control = await run(['unshare', '-U', 'true'], { bare: true });
    if (controlOk(t, 'unshare -U', control, control.code === 0)) assert.equal(control.code, 0);
  });

  it('answers clone3 and numbers past the table with ENOSYS', async () => {
    assert.equal((await probeSyscall([nr('clone3'), 0, 0])).stdout, 'errno 38 Function not implemented\n');
    assert.equal((await probeSyscall([1023])).stdout, 'errno 38 Function not implemented\n');
    if (arch === 'x86_64') assert.equal((await probeSyscall([0x40000000 | nr('getpid')])).stdout, 'errno 38 Function not implemented\n', 'x32 getpid');
  });

  it('keeps ordinary programs working: node threads and children, perl fork, ps, git, python threads', async (t) => {
    const node = await run(
      [
        process.execPath,
        '-e',
        'const { Worker } = require("worker_threads"); const out = require("child_process").execFileSync("sh", ["-c", "echo child"]).toString().trim(); new Worker("require(\'worker_threads\').parentPort.postMessage(6*7)", { eval: true }).on("message", (m) => console.log(out, m))',
      ],
      { cwd: dir },
    );
    assert.equal(node.code, 0, node.stderr);
    assert.equal(node.stdout, 'child 42\n');
    const fork = await perl('my $pid = fork // die "fork: $!"; if (!$pid) { exit 7 } waitpid($pid, 0); print $? >> 8, "\\n"');
    assert.equal(fork.stdout, '7\n', fork.stderr);
    const ps = await run(['ps', '-o', 'pid=,comm=', '-p', '1']);
    assert.equal(ps.code, 0, ps.stderr);
    if (which('git')) {
      const git = await run(['sh', '-c', 'git init -q repo && cd repo && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m x && git log --oneline | wc -l'], { cwd: dir });
      assert.equal(git.stdout.trim(), '1', git.stderr);
    } else {
      t.diagnostic('git is not installed: its probe is skipped');
    }
    if (PYTHON) {
      const py = await run([PYTHON, '-c', 'import threading, subprocess\nr=[]\nt=threading.Thread(target=lambda: r.append(subprocess.run(["true"]).returncode)); t.start(); t.join(); print(r)']);
      assert.equal(py.stdout, '[0]\n', py.stderr);
    } else {
      t.diagnostic('python3 is not installed: its probe is skipped');
    }
  });
});
