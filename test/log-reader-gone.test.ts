/**
 * A daemon whose log reader went away (stderr a pipe or socket nobody reads
 * any more: a `trl serve 2>&1 | tee` whose tee died, a restarted journald)
 * still stops on SIGTERM, with status 0 and its socket removed. With
 * sonic-boom 4 (pino's destination) it did not: at exit, pino flushes what
 * is pending with flushSync, which retried EPIPE every 100 ms forever, and a
 * blocked main thread runs no signal handler, so only SIGKILL ended it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { it } from 'node:test';
import { NODE_FLAGS } from '../src/node-flags.js';
import { cleanEnv, exitOf, MAIN_JS, makeTempDir } from './helpers/daemon.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

/** One request on a connection of its own, answered (or the connection failed). */
function request(socketPath: string, msg: unknown): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath, () => s.write(JSON.stringify(msg) + '\n'));
    s.on('data', () => {
      s.destroy();
      resolve();
    });
    s.on('error', () => resolve());
  });
}

for (const [what, requestsAfter] of [
  ['stopped at once after its reader went away', 0],
  ['after logging requests with its reader gone', 10],
] as const) {
  it(`a daemon whose stdout and stderr reader went away stops on SIGTERM: ${what}`, async () => {
    const dir = makeTempDir();
    const socketPath = path.join(dir, 'trl.sock');
    const proc = spawn(process.execPath, [...NODE_FLAGS, MAIN_JS, 'serve', '--socket-path', socketPath, '--allow-root', '--log-level', 'debug', '--tiers', 'host', '--workspace-roots', dir], {
      cwd: dir,
      env: cleanEnv({}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = exitOf(proc);
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      assert.ok(await waitFor(() => stderr.includes('trl listening')), `the daemon did not start: ${stderr}`);
      // Whoever read its output is gone: every later write fails (EPIPE).
      proc.stdout.destroy();
      proc.stderr.destroy();
      for (let i = 0; i < requestsAfter; i++) await request(socketPath, { id: i, method: 'exec.run', params: { command: 'echo hi' } });
      proc.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), DEADLINE_MS).unref())]);
      assert.equal(code, 0, code === 'running' ? `the daemon still runs ${DEADLINE_MS / 1000} s after SIGTERM` : `exit status ${code}`);
      assert.equal(fs.existsSync(socketPath), false, 'the socket was removed');
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
  });
}
