/**
 * The `trl` shebang carries no V8 flags (each costs every client call about
 * 7 ms at start-up); `trl serve` and `trl rpc` started that way execute
 * themselves again with the daemon's (src/node-flags.ts): the same pid,
 * now with the flags, its stdout, stderr and stdin still its own, and a
 * clean stop. What it was given passes through the exec as it was: other
 * descriptors (a log on /dev/fd/3), and a pipe's blocking mode, which the
 * first image's streams changed. Flags given in another spelling are not
 * given again, and a process under a debugger is not executed again.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { NODE_FLAGS } from '../src/node-flags.js';
import { connect } from './helpers/client.js';
import { cleanEnv, exitOf, MAIN_JS, makeTempDir } from './helpers/daemon.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

/** The command line of a live process, as its arguments. */
const cmdline = (pid: number): string[] => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

it('trl serve started by its shebang runs with the daemon flags, in the same process, its output intact', async () => {
  const dir = makeTempDir();
  const socketPath = path.join(dir, 'trl.sock');
  // As a shell runs `trl serve`: the file itself, whose shebang is `#!/usr/bin/env node`.
  const proc = spawn(MAIN_JS, ['serve', '--socket-path', socketPath, '--allow-root', '--log-level', 'info', '--tiers', 'host', '--workspace-roots', dir], {
    cwd: dir,
    env: cleanEnv({}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = exitOf(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    assert.ok(await waitFor(() => stdout.includes('listening on')), `no "listening" line on stdout; stderr: ${stderr}`);
    // stderr is another pipe: its lines may come after stdout's.
    assert.ok(await waitFor(() => stderr.includes('"msg":"trl listening"')), `the log on stderr: ${stderr}`);
    const args = cmdline(proc.pid!);
    for (const flag of NODE_FLAGS) assert.ok(args.includes(flag), `the daemon (pid ${proc.pid}) runs without ${flag}: ${args.join(' ')}`);
    const c = await connect(socketPath);
    try {
      assert.equal((await c.call('exec.run', { command: 'echo ok' })).stdout, 'ok\n');
    } finally {
      c.close();
    }
    assert.doesNotMatch(stderr, /without the daemon's Node flags/);
    proc.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), DEADLINE_MS).unref())]);
    assert.equal(code, 0, `stderr: ${stderr}`);
    assert.match(stderr, /"msg":"stopped"/);
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
});

it('trl rpc started by its shebang keeps its stdin and stdout across the exec', () => {
  const dir = makeTempDir();
  const r = spawnSync(MAIN_JS, ['rpc', '--allow-root', '--tiers', 'host', '--workspace-roots', dir, '--default-working-dir', dir], {
    cwd: dir,
    env: cleanEnv({}),
    input: JSON.stringify({ id: 1, method: 'exec.run', params: { command: 'echo "$PPID" rpc' } }) + '\n',
    encoding: 'utf8',
    timeout: DEADLINE_MS,
  });
  assert.equal(r.status, 0, r.stderr);
  const answer = JSON.parse(r.stdout.trim().split('\n')[0] ?? '{}') as { ok?: boolean; data?: { stdout?: string } };
  assert.equal(answer.ok, true, r.stdout);
  assert.match(answer.data?.stdout ?? '', / rpc\n$/);
});

/** Starts `trl serve` as `node <nodeArgs> trl.js serve …`, or by its shebang (no nodeArgs), in a private directory. */
function serveIn(dir: string, nodeArgs: string[] | null, extra: string[], stdio: Array<'ignore' | 'pipe' | number>) {
  const args = ['serve', '--socket-path', path.join(dir, 'trl.sock'), '--allow-root', '--tiers', 'host', '--workspace-roots', dir, ...extra];
  const proc = nodeArgs === null ? spawn(MAIN_JS, args, { cwd: dir, env: cleanEnv({}), stdio }) : spawn(process.execPath, [...nodeArgs, MAIN_JS, ...args], { cwd: dir, env: cleanEnv({}), stdio });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return { proc, exited: exitOf(proc), stderr: () => stderr, socketPath: path.join(dir, 'trl.sock') };
}

/** Stops a daemon with SIGTERM and returns its exit code (SIGKILL at the deadline). */
async function stop(d: ReturnType<typeof serveIn>): Promise<number | null | 'running'> {
  d.proc.kill('SIGTERM');
  const code = await Promise.race([d.exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), DEADLINE_MS).unref())]);
  if (code === 'running') d.proc.kill('SIGKILL');
  return code;
}

it('a descriptor the daemon was given beyond stderr passes through the exec: its log on /dev/fd/3', async () => {
  const dir = makeTempDir();
  const logPath = path.join(dir, 'given.log');
  const logFd = fs.openSync(logPath, 'w', 0o600);
  const d = serveIn(dir, null, ['--log-level', 'info', '--log-file', '/dev/fd/3'], ['ignore', 'ignore', 'pipe', logFd]);
  fs.closeSync(logFd);
  const log = () => fs.readFileSync(logPath, 'utf8');
  try {
    assert.ok(await waitFor(() => log().includes('"msg":"trl listening"')), `no log on fd 3: ${log()}; stderr: ${d.stderr()}`);
    const args = cmdline(d.proc.pid!);
    for (const flag of NODE_FLAGS) assert.ok(args.includes(flag), `the daemon runs without ${flag}: ${args.join(' ')}`);
    assert.equal(await stop(d), 0, d.stderr());
    assert.match(log(), /"msg":"stopped"/);
  } finally {
    if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL');
  }
});

it("a pipe the daemon was given as stdout is left blocking after it exits, as it was given (the first image's stream made it non-blocking)", async () => {
  const dir = makeTempDir();
  const fifo = path.join(dir, 'out.fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  // Opened read-write: no wait for a peer, and this descriptor shares the daemon's stdout's open file, whose flags it shows.
  const fd = fs.openSync(fifo, fs.constants.O_RDWR);
  const nonBlocking = () => (parseInt(/^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8) & 0o4000) !== 0;
  try {
    assert.equal(nonBlocking(), false, 'a fresh FIFO is blocking');
    const d = serveIn(dir, null, ['--log-level', 'warn'], ['ignore', fd, 'pipe']);
    try {
      assert.ok(await waitFor(() => fs.existsSync(d.socketPath)), `the daemon did not listen: ${d.stderr()}`);
      const c = await connect(d.socketPath);
      c.close();
      assert.equal(await stop(d), 0, d.stderr());
    } finally {
      if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL');
    }
    assert.equal(nonBlocking(), false, 'the daemon left its stdout non-blocking');
  } finally {
    fs.closeSync(fd);
  }
});

it('flags given in another spelling are not given again, and under a debugger the daemon is not executed again (it says why)', async () => {
  const dir = makeTempDir();
  // Underscores for dashes, and a boolean flag given the other way (`--sparkplug`): the user's choice, kept.
  const given = ['--max_semi_space_size=1', '--heap_growing_percent=600', '--sparkplug'];
  assert.equal(given.length, NODE_FLAGS.length, 'one spelling of each of the daemon flags');
  const spelled = serveIn(dir, given, ['--log-level', 'info'], ['ignore', 'ignore', 'pipe']);
  try {
    assert.ok(await waitFor(() => spelled.stderr().includes('"msg":"trl listening"')), spelled.stderr());
    const args = cmdline(spelled.proc.pid!);
    assert.deepEqual(args.slice(1, 1 + given.length), given, `executed again: ${args.join(' ')}`);
    assert.doesNotMatch(spelled.stderr(), /without the daemon's Node flags/);
    assert.equal(await stop(spelled), 0, spelled.stderr());
  } finally {
    if (spelled.proc.exitCode === null && spelled.proc.signalCode === null) spelled.proc.kill('SIGKILL');
  }
  const dir2 = makeTempDir();
  const debugged = serveIn(dir2, ['--inspect=127.0.0.1:0'], ['--log-level', 'info'], ['ignore', 'ignore', 'pipe']);
  try {
    assert.ok(await waitFor(() => debugged.stderr().includes('"msg":"trl listening"')), debugged.stderr());
    assert.match(debugged.stderr(), /"problem":"a debugger is attached \(--inspect\).*running without the daemon's Node flags/);
    assert.equal(debugged.stderr().match(/Debugger listening/g)?.length, 1, debugged.stderr());
    assert.equal(await stop(debugged), 0, debugged.stderr());
  } finally {
    if (debugged.proc.exitCode === null && debugged.proc.signalCode === null) debugged.proc.kill('SIGKILL');
  }
});
