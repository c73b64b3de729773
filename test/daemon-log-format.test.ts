/**
 * The daemon logs readable lines when its stderr is a terminal and JSON
 * lines otherwise (issue 12, item 18), and neither ever shows an
 * environment value. The terminal is a real pseudo-terminal (node-pty).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import pty from '@lydell/node-pty';
import { connect } from './helpers/client.js';
import { makeTempDir, MAIN_JS, startDaemon } from './helpers/daemon.js';
import { waitFor } from './helpers/wait.js';
import { mask, newSecret } from './helpers/secrets.js';

/** A session with a planted secret, a command that uses it: what a log line could leak. */
async function plantSecret(socketPath: string, secret: string): Promise<void> {
  const c = await connect(socketPath);
  try {
    const s = await c.call('session.create', { env: { PLANTED: secret } });
    const r = await c.call('exec.run', { session_id: s.session_id, command: 'true', env: { ALSO: secret } });
    assert.equal(r.exit_code, 0);
    await c.call('session.destroy', { session_id: s.session_id });
  } finally {
    c.close();
  }
}

describe('daemon log format', () => {
  it('on a terminal: one readable line per record, the banner among them, no JSON, no env value', async () => {
    const dir = makeTempDir();
    const socketPath = path.join(dir, 'trl.sock');
    const secret = newSecret();
    let out = '';
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRL_'))) as Record<string, string>;
    const p = pty.spawn(process.execPath, [MAIN_JS, 'serve', '--socket-path', socketPath, '--allow-root', '--tiers', 'host', '--log-level', 'debug'], {
      cols: 200,
      rows: 50,
      cwd: dir,
      env: { ...env, NO_COLOR: '1' },
    });
    p.onData((d) => (out += d));
    const exited = new Promise<number>((resolve) => p.onExit(({ exitCode }) => resolve(exitCode)));
    try {
      assert.ok(await waitFor(() => out.includes('trl listening')), `no 'trl listening' log line:\n${out}`);
      await plantSecret(socketPath, secret);
      assert.ok(await waitFor(() => out.includes('session destroyed')), `no 'session destroyed' line:\n${mask(out, [secret])}`);
    } finally {
      p.kill('SIGTERM');
    }
    assert.equal(await exited, 0, 'a clean shutdown');
    const lines = out.split(/\r?\n/).filter((l) => l.trim().length > 0);
    assert.ok(!out.includes(secret), `an env value reached the terminal:\n${mask(out, [secret])}`);
    assert.deepEqual(
      lines.filter((l) => l.trimStart().startsWith('{')),
      [],
      'no JSON line on a terminal',
    );
    assert.ok(
      lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO {2}trl listening socket=\S+trl\.sock /.test(l)),
      `a readable listening line:\n${out}`,
    );
    assert.ok(
      lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} DEBUG command started .*env_keys=\["ALSO"\]/.test(l)),
      `env keys, not values:\n${mask(out, [secret])}`,
    );
    assert.ok(
      lines.some((l) => /^trl \S+ listening on unix:/.test(l)),
      'the banner',
    );
    assert.ok(!/\x1b\[/.test(out), 'NO_COLOR: no colours');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('not on a terminal: JSON, one object per line, no env value', async () => {
    const d = await startDaemon({ flags: ['--log-level', 'debug'] });
    const secret = newSecret();
    try {
      await plantSecret(d.socketPath, secret);
      assert.ok(await waitFor(() => d.stderr().includes('session destroyed')), 'the destroy was logged');
    } finally {
      await d.shutdownClean();
    }
    const lines = d
      .stderr()
      .split('\n')
      .filter((l) => l.length > 0);
    assert.ok(lines.length > 3, 'some log lines');
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not JSON: ${mask(l, [secret])}`);
    assert.ok(lines.some((l) => JSON.parse(l).msg === 'trl listening'));
    assert.ok(!d.logs().includes(secret), 'an env value reached the logs');
  });
});
