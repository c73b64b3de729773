/**
 * Issue 6 acceptance 5: tiers are health-checked at start. A broken default
 * tier stops the daemon with the fix; a broken other tier answers
 * RUNTIME_UNAVAILABLE. And `trl doctor` reports what each tier needs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { connect, expectCode } from './helpers/client.js';
import { MAIN_JS, startDaemon } from './helpers/daemon.js';
import { waitFor } from './helpers/wait.js';
import { parseMounts } from '../src/tiers/host/cgroups.js';

/** An engine address where nothing listens. */
const NO_ENGINE = { DOCKER_HOST: 'unix:///nonexistent/trl-no-docker.sock' };

function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN_JS, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('tier health checks', () => {
  it('a broken default tier stops the start, non-zero, naming the fix', async () => {
    const d = await startDaemon({ flags: ['--tiers', 'host,docker', '--runtime', 'docker'], env: NO_ENGINE, noWait: true });
    const code = await d.exited;
    assert.equal(code, 1, d.logs());
    assert.match(d.stderr(), /default tier 'docker' failed its health check/);
    assert.match(d.stderr(), /dockerd|DOCKER_HOST/, 'the message names what to start or set');
    assert.match(d.stderr(), /--runtime/, 'and the way out');
    await d.dispose();
  });

  it('a broken other tier leaves the daemon up and answers RUNTIME_UNAVAILABLE with the reason', async () => {
    const d = await startDaemon({ flags: ['--tiers', 'host,docker'], env: NO_ENGINE });
    const c = await connect(d);
    try {
      const info: any = await c.call('system.info', {});
      assert.equal(info.default_runtime, 'host');
      assert.equal(info.tiers.host.available, true);
      assert.equal(info.tiers.docker.available, false);
      assert.match(info.tiers.docker.detail, /dockerd|DOCKER_HOST/);
      assert.equal(info.tiers.sandbox.available, false);
      assert.match(info.tiers.sandbox.detail, /--tiers/);
      const e = await expectCode(c, 'session.create', { runtime: 'docker' }, 'RUNTIME_UNAVAILABLE');
      assert.match(e.message, /dockerd|DOCKER_HOST/);
      assert.match(d.logs(), /tier unavailable/);
      const s = await c.call('session.create', {});
      assert.equal(s.runtime, 'host');
      assert.equal(s.isolation.isolated, false);
    } finally {
      c.close();
      await d.shutdownClean();
    }
  });

  it('--runtime must be one of --tiers', async () => {
    const d = await startDaemon({ flags: ['--tiers', 'host', '--runtime', 'sandbox'], noWait: true });
    assert.equal(await d.exited, 2, 'a configuration error');
    assert.match(d.stderr(), /add it to --tiers/);
    await d.dispose();
  });

  it('trl doctor lists what each tier needs and has, and exits by the default tier', async () => {
    const ok = await runCli(['doctor', '--tiers', 'host,sandbox', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const report = JSON.parse(ok.stdout);
    assert.equal(report.default_runtime, 'host');
    assert.equal(report.ok, true);
    const host = report.tiers.find((t: any) => t.tier === 'host');
    assert.ok(host.requirements.some((r: any) => /shell/.test(r.need) && r.present));
    assert.ok(host.enforcement.process_tracking);
    const sandbox = report.tiers.find((t: any) => t.tier === 'sandbox');
    assert.ok(sandbox.requirements.some((r: any) => /bwrap/.test(r.need)));

    const broken = await runCli(['doctor', '--tiers', 'host,docker', '--runtime', 'docker'], NO_ENGINE);
    assert.equal(broken.code, 1, broken.stdout + broken.stderr);
    assert.match(broken.stdout, /docker \(default\): UNAVAILABLE/);
    assert.match(broken.stdout, /does not work/);
    assert.match(broken.stdout, /\[MISSING\] a docker engine .*start dockerd or set DOCKER_HOST/, 'the missing engine is named with its fix');
  });

  it('trl doctor and the start say whether a command after an idle moment waits to join its cgroup, with the fix', async () => {
    const report = JSON.parse((await runCli(['doctor', '--tiers', 'host,sandbox', '--json'])).stdout);
    const favoured = parseMounts(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.options.includes('favordynmods'));
    const d = await startDaemon({ flags: ['--tiers', 'host'] });
    try {
      for (const t of report.tiers) {
        const req = t.requirements.find((r: any) => /favordynmods/.test(r.need));
        if (!t.enforcement.process_tracking.startsWith('cgroup')) {
          assert.equal(req, undefined, `${t.tier}: no cgroups, nothing to join`);
          continue;
        }
        assert.ok(req, `${t.tier} lists it`);
        assert.equal(req.optional, true);
        assert.equal(req.present, favoured, `${t.tier}: as the mounts say`);
        if (!favoured) assert.match(req.found, /waits 10–20 ms .*; fix: mount -o remount,favordynmods \/sys\/fs\/cgroup/);
      }
      const tracked = report.tiers.find((t: any) => t.tier === 'host').enforcement.process_tracking.startsWith('cgroup');
      // Said before 'trl listening', so it is in the log once that is.
      assert.ok(await waitFor(() => d.logs().includes('"msg":"trl listening"')), d.logs());
      const warned = /slow command starts: .*fix: mount -o remount,favordynmods/.test(d.logs());
      assert.equal(warned, tracked && !favoured, d.logs());
    } finally {
      await d.shutdownClean();
    }
  });
});
