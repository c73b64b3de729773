/**
 * `trl mcp` where no daemon runs (issue 14: `claude mcp add trl -- npx trl
 * mcp` on a fresh machine): it runs a daemon of its own, on a private socket,
 * and everything ends with the client. And what it says when the daemon it
 * was told to use is not there, or its settings are wrong.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MAIN_JS, makeTempDir } from './helpers/daemon.js';
import { assertSleepsGone, findSleeps, killSleeps, procAlive, uniqueSleep } from './helpers/processes.js';
import { waitFor } from './helpers/wait.js';
import { connectStdio, textOf } from './helpers/mcp.js';

/** The private runtime directory of the daemon inside process `pid`. */
function ownRuntimeDir(pid: number): string | undefined {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith('trl-mcp-'))) {
    try {
      if (JSON.parse(readFileSync(join(tmpdir(), name, 'trl.sock.daemon.json'), 'utf8')).pid === pid) return join(tmpdir(), name);
    } catch {
      /* another one's, being made or removed */
    }
  }
  return undefined;
}

function runMcp(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN_JS, 'mcp', ...args], { input: '', encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('trl mcp with no daemon running', () => {
  it('runs a daemon of its own on a private socket, and its sessions and that daemon end with the client', async () => {
    const xdg = makeTempDir();
    const s = uniqueSleep();
    const conn = await connectStdio('legacy', ['--allow-root', '--tiers', 'host'], { XDG_RUNTIME_DIR: xdg });
    try {
      const r = await conn.client.callTool({ name: 'run', arguments: { command: 'echo $((6 * 7))' } });
      assert.equal((r.structuredContent as any).stdout, '42\n', textOf(r));
      const bg = await conn.client.callTool({ name: 'run', arguments: { command: `sleep ${s}`, session: 'bg', yield_s: 0.5 } });
      assert.equal((bg.structuredContent as any).running, true, textOf(bg));
      assert.ok(await waitFor(() => findSleeps(s).length === 1), `sleep ${s} is not running`);
      const own = ownRuntimeDir(conn.pid!);
      assert.ok(own, 'its daemon has a runtime directory of its own');
      assert.equal(existsSync(join(xdg, 'trl', 'trl.sock')), false, 'it does not take the shared default socket');
      await conn.close();
      await assertSleepsGone([s], 'after the client left: ');
      assert.equal(await waitFor(() => !procAlive(conn.pid!)), true, 'trl mcp exits');
      assert.equal(existsSync(own), false, 'its runtime directory is removed');
    } finally {
      killSleeps([s]);
      await conn.close().catch(() => undefined);
      rmSync(xdg, { recursive: true, force: true });
    }
  });

  it('says which daemon is missing when told to use one that is not there (exit 1)', () => {
    const r = runMcp(['--socket', '/nonexistent-trl/trl.sock']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no trl daemon listens on \/nonexistent-trl\/trl\.sock/);
  });

  it('says why the daemon of its own cannot start, without a stack trace (exit 1)', () => {
    const r = runMcp(['--embedded', '--allow-root', '--workspace-roots', '/']);
    assert.equal(r.status, 1, r.stderr);
    // its own line (a daemon's warnings, such as reaping what a crashed one left behind, may come before it)
    assert.match(r.stderr, /^trl: trl mcp could not start a daemon of its own: workspace root \/ is the whole filesystem/m);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  });

  it('refuses session settings that are wrong before serving (exit 2)', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--limit', 'memory_bytes=lots'], /memory_bytes must be a number/],
      [['--limit', 'colour=3'], /colour/],
      [['--limit', 'pids=0'], /pids/],
      [['--runtime', 'vm'], /runtime/],
    ];
    for (const [args, message] of bad) {
      const r = runMcp(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });
});
