/**
 * Issue 17, gVisor: the OCI runtime of docker sessions (--docker-runtime),
 * through real daemons and `trl doctor`. The first suite needs only an engine
 * (a runtime it lacks, its default); the second needs runsc registered in it
 * (.ci/run does that; elsewhere the daemon's own refusal, which names the
 * dockerd configuration, is the printed skip reason — a failure under
 * TRL_REQUIRE_TIERS=1). The conformance suite runs on runsc too
 * (test/conformance.test.ts, RUNSC_VARIANT).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { after, describe, it } from 'node:test';
import { connect, expectCode } from './helpers/client.js';
import { MAIN_JS, startDaemon } from './helpers/daemon.js';
import { dockerCli, dockerSkip, removeWorkspace, TEST_IMAGE, tierWorkspace } from './helpers/docker.js';
import { useTierDaemon } from './helpers/fixture.js';
import { engineRuntimeNames } from './helpers/runsc.js';

/** A runtime no engine registers. */
const NO_SUCH_RUNTIME = 'trl-no-such-runtime';
const DOCKER_FLAGS = ['--docker-image', TEST_IMAGE, '--docker-network', 'host'];

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The runtime the engine gave a container (`docker inspect`): HostConfig.Runtime. */
function containerRuntime(containerId: string): string {
  return dockerCli('inspect', '--format', '{{.HostConfig.Runtime}}', containerId).trim();
}

/** What a doctor report says of the docker tier's OCI runtime. */
function runtimeRequirement(report: any): { need: string; present: boolean; found: string } {
  const docker = report.tiers.find((t: any) => t.tier === 'docker');
  const req = docker?.requirements.find((r: any) => /OCI runtime/.test(r.need));
  assert.ok(req, `trl doctor lists no OCI runtime requirement: ${JSON.stringify(docker?.requirements)}`);
  return req;
}

// The suites side by side (daemons, workspaces and containers of their own), the tests of each one after the other.
describe('docker tier OCI runtimes', { concurrency: true }, () => {
  describe('docker tier: the OCI runtime setting', { skip: dockerSkip('the OCI runtime setting'), concurrency: false }, () => {
    const ws = tierWorkspace();
    after(() => removeWorkspace(ws));

    it('a runtime the engine lacks: the default docker tier stops the start, naming the dockerd configuration that registers it', async () => {
      const d = await startDaemon({ flags: ['--tiers', 'host,docker', '--runtime', 'docker', ...DOCKER_FLAGS, '--docker-runtime', NO_SUCH_RUNTIME, '--default-working-dir', ws], noWait: true });
      try {
        assert.equal(await d.exited, 1, d.logs());
        assert.match(d.stderr(), new RegExp(`offers no runtime '${NO_SUCH_RUNTIME}'`));
        assert.match(d.stderr(), /"runtimes"/, 'the message shows the dockerd configuration');
        assert.match(d.stderr(), /restart dockerd/, 'and says to restart dockerd');
      } finally {
        await d.dispose();
      }
    });

    it('a runtime the engine lacks, docker not the default: session.create on docker answers RUNTIME_UNAVAILABLE with the fix', async () => {
      const d = await startDaemon({ flags: ['--tiers', 'host,docker', '--runtime', 'host', ...DOCKER_FLAGS, '--docker-runtime', NO_SUCH_RUNTIME, '--default-working-dir', ws] });
      const c = await connect(d);
      try {
        const info: any = await c.call('system.info', {});
        assert.equal(info.tiers.docker.available, false);
        const e = await expectCode(c, 'session.create', { runtime: 'docker', working_dir: ws }, 'RUNTIME_UNAVAILABLE');
        assert.match(e.message, new RegExp(`no runtime '${NO_SUCH_RUNTIME}'.*"runtimes"`));
      } finally {
        c.close();
        await d.shutdownClean();
      }
    });

    it("no --docker-runtime: sessions run under the engine's default, and session.info names it", async () => {
      const d = await startDaemon({ flags: ['--tiers', 'host,docker', '--runtime', 'docker', ...DOCKER_FLAGS, '--default-working-dir', ws] });
      const c = await connect(d);
      try {
        const s: any = await c.call('session.create', { working_dir: ws });
        const engineDefault = dockerCli('info', '--format', '{{.DefaultRuntime}}').trim();
        assert.equal(s.isolation.detail.oci_runtime, engineDefault);
        assert.equal(containerRuntime(s.isolation.detail.container_id), engineDefault);
        await c.call('session.destroy', { session_id: s.session_id });
      } finally {
        c.close();
        await d.shutdownClean();
      }
    });

    it('trl doctor names the runtimes the engine offers and the one sessions use; a missing one is MISSING with its fix', async () => {
      const ok = await runCli(['doctor', '--tiers', 'host,docker', ...DOCKER_FLAGS, '--json']);
      const req = runtimeRequirement(JSON.parse(ok.stdout));
      assert.equal(req.present, true, req.found);
      for (const name of engineRuntimeNames()) assert.ok(req.found.includes(name), `the engine's runtime ${name} is not in ${JSON.stringify(req.found)}`);
      assert.match(req.found, /the engine's default/);

      const broken = await runCli(['doctor', '--tiers', 'host,docker', '--runtime', 'docker', ...DOCKER_FLAGS, '--docker-runtime', NO_SUCH_RUNTIME]);
      assert.equal(broken.code, 1, broken.stdout + broken.stderr);
      assert.match(broken.stdout, new RegExp(`\\[MISSING\\] the OCI runtime of sessions \\(--docker-runtime\\): .*no runtime '${NO_SUCH_RUNTIME}'.*"runtimes"`));
    });
  });

  describe('docker tier under gVisor (--docker-runtime runsc)', { concurrency: false }, () => {
    let ws = '';
    // A warm pool, so both ways a session gets its container are covered: warm, and cold (ulimits are set at create).
    const h = useTierDaemon('docker', () => {
      ws = tierWorkspace();
      return { flags: ['--docker-runtime', 'runsc', '--docker-warm-pool', '1', '--default-working-dir', ws] };
    });
    after(() => {
      if (ws) removeWorkspace(ws);
    });
    const call = (method: string, params: Record<string, unknown>): Promise<any> => h.client!.call(method, params);

    it("sessions' containers run under runsc, warm or cold: session.info and the engine say so, and commands see gVisor's kernel, not the host's", async (t) => {
      if (h.skip(t)) return;
      assert.match(h.info.tiers.docker.detail, /OCI runtime runsc \(gVisor/);
      for (const limits of [{}, { nofile: 256 }]) {
        const s = await call('session.create', { working_dir: ws, limits });
        assert.equal(s.isolation.detail.oci_runtime, 'runsc');
        assert.equal(containerRuntime(s.isolation.detail.container_id), 'runsc', `limits ${JSON.stringify(limits)}`);
        const r = await call('exec.run', { session_id: s.session_id, command: 'uname -r; ulimit -n', timeout_s: 60 });
        assert.equal(r.exit_code, 0, r.stderr);
        const [release, nofile] = r.stdout.split('\n');
        assert.notEqual(release, os.release(), "the kernel release inside is the host's: the container is not under gVisor");
        if ('nofile' in limits) assert.equal(nofile, '256', 'the nofile ulimit applies under gVisor');
        await call('session.destroy', { session_id: s.session_id });
      }
    });

    it('limits gVisor leaves unenforced (it ignores cgroups) are refused, naming why; where it enforces them they are accepted', async (t) => {
      if (h.skip(t)) return;
      const limits = { memory_bytes: 64 * 1024 * 1024, pids: 32 };
      if (h.enforcement?.limits === 'container-ulimits') {
        const e = await expectCode(h.client!, 'session.create', { working_dir: ws, limits }, 'RUNTIME_UNAVAILABLE');
        assert.match(e.message, /ignores cgroups.*memory_bytes/);
        assert.match(e.message, /leave them out/, 'the refusal says what to do');
      } else {
        assert.equal(h.enforcement?.limits, 'container-cgroup');
        const s = await call('session.create', { working_dir: ws, limits });
        assert.equal(s.limits.pids, 32);
        await call('session.destroy', { session_id: s.session_id });
      }
    });
  });
});
