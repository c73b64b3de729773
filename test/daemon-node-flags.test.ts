/**
 * The `trl` shebang carries no V8 flags (each costs every client call about
 * 7 ms at start-up); `trl serve` and `trl rpc` started that way execute
 * themselves again with the daemon's (src/node-flags.ts): the same pid,
 * now with the flags, its stdout, stderr and stdin still its own, and a
 * clean stop.
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
    assert.match(stderr, /"msg":"trl listening"/, 'the log on stderr');
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
