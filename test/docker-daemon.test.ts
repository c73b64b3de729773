/**
 * Issue 6 acceptance 3 and 4 through a real daemon and the SDK: what a docker
 * session can reach, that destroy and crash recovery remove containers, that
 * DOCKER_HOST=tcp:// works, and that cancel leaves nothing in the container.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { containersLabelled, containerTop, dockerSkip, inspectRaw, startTcpProxy } from './helpers/docker.js';
import { removeWorkspace, startTierDaemon, tierWorkspace, TEST_IMAGE } from './helpers/tiers.js';
import { MAIN_JS, startDaemon } from './helpers/daemon.js';
import { waitFor } from './helpers/wait.js';
import { useTierDaemon } from './helpers/fixture.js';

const DOCKER_FLAGS = ['--tiers', 'host,docker', '--runtime', 'docker', '--docker-image', TEST_IMAGE, '--docker-network', 'host'];

/** Processes in the container other than docker-init and the holder. */
function userProcesses(containerId: string): string[] {
  return containerTop(containerId).filter((l) => !/docker-init|sleep 2147483647/.test(l));
}

// The suites side by side (daemons, workspaces and containers of their own), the tests of each one after the other.
describe('docker tier and the daemon', { concurrency: true }, () => {
  describe('docker tier through the daemon', { concurrency: false }, () => {
    let ws: string;
    const mark = randomBytes(8).toString('hex');
    const h = useTierDaemon('docker', () => {
      ws = tierWorkspace();
      // a 1 s kill grace keeps the SIGTERM-ignoring tree of exec.cancel quick (the default is 5 s)
      return { flags: ['--default-working-dir', ws, '--kill-grace-s', '1'] };
    });
    after(() => {
      removeWorkspace(ws);
    });

    const create = async (extra: Record<string, unknown> = {}) => h.client!.call('session.create', { working_dir: ws, ...extra });
    const run = (session_id: string, command: string, extra: Record<string, unknown> = {}) => h.client!.call('exec.run', { session_id, command, timeout_s: 30, ...extra });

    it('writes the workspace; writes elsewhere stay in the container; /tmp persists and is not the host’s; host processes are invisible', async (t) => {
      if (h.skip(t)) return;
      const s = await create();
      assert.equal(s.runtime, 'docker');
      assert.equal(s.isolation.isolated, true);
      assert.equal(s.isolation.network, false);
      assert.match(s.isolation.detail.container_id ?? '', /^[0-9a-f]{12}$/);
      const sid = s.session_id;
      assert.equal((await run(sid, `echo made > in-${mark}`)).exit_code, 0);
      assert.equal(fs.readFileSync(path.join(ws, `in-${mark}`), 'utf8'), 'made\n');
      await run(sid, `echo x > /etc/out-${mark}; echo x > /tmp/t-${mark}`);
      assert.ok(!fs.existsSync(`/etc/out-${mark}`) && !fs.existsSync(`/tmp/t-${mark}`), 'nothing reaches the host outside the workspace');
      assert.equal((await run(sid, `cat /tmp/t-${mark}`)).stdout, 'x\n', '/tmp persists between commands');
      const hostFile = `/tmp/trl-host-${mark}`;
      fs.writeFileSync(hostFile, 'host\n');
      try {
        assert.notEqual((await run(sid, `cat ${hostFile}`)).exit_code, 0, "the host's /tmp is not the container's");
      } finally {
        fs.rmSync(hostFile);
      }
      const procs = await run(sid, `ls /proc | grep -c '^[0-9]'; kill -0 ${h.daemon!.pid} 2>/dev/null && echo sees-daemon || true`);
      assert.ok(!procs.stdout.includes('sees-daemon'));
      assert.ok(Number(procs.stdout.split('\n')[0]) < 10, procs.stdout);
      const ssh = await run(sid, 'ls -A ~/.ssh 2>/dev/null | wc -l; id -u');
      assert.equal(ssh.stdout.split('\n')[0]!.trim(), '0', 'no secret store of the daemon user is in the container');
      await h.client!.call('session.destroy', { session_id: sid });
    });

    it('has no network unless asked: a host loopback listener is unreachable, then reachable with network: true', async (t) => {
      if (h.skip(t)) return;
      const server = net.createServer((c) => c.end('hello-from-host\n'));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const probe = `nc -w 2 127.0.0.1 ${port} </dev/null`;
        const closed = await create();
        const r1 = await run(closed.session_id, probe);
        assert.ok(!r1.stdout.includes('hello-from-host'), `must not connect: ${JSON.stringify(r1)}`);
        const open = await create({ network: true });
        assert.equal(open.isolation.network, true);
        const r2 = await run(open.session_id, probe);
        assert.equal(r2.stdout, 'hello-from-host\n', JSON.stringify(r2));
        await h.client!.call('session.destroy', { session_id: closed.session_id });
        await h.client!.call('session.destroy', { session_id: open.session_id });
      } finally {
        server.close();
      }
    });

    it('keeps every env value out of docker inspect, and session.destroy removes the container', async (t) => {
      if (h.skip(t)) return;
      const secret = `planted-${mark}-value`;
      const s = await create({ env: { PLANTED_SECRET: secret, OTHER: `other-${mark}` } });
      const r = await run(s.session_id, 'echo "$OTHER"; export LATER=later-' + mark, { env: { CMD_ONLY: `cmd-${mark}` } });
      assert.equal(r.stdout, `other-${mark}\n`);
      const id = s.isolation.detail.container_id!;
      const raw = inspectRaw(id);
      assert.ok(raw, 'the container exists while the session lives');
      assert.ok(!raw.includes(mark), 'no env value in the container config');
      assert.ok(!raw.includes('PLANTED_SECRET'), 'nor even the names');
      await h.client!.call('session.destroy', { session_id: s.session_id });
      assert.equal(inspectRaw(id), null, 'session.destroy removed the container');
    });

    it('exec.cancel of sh -c \'trap "" TERM; sleep 1000 & wait\' leaves no process in the container', async (t) => {
      if (h.skip(t)) return;
      const s = await create();
      const id = s.isolation.detail.container_id!;
      const c = await h.client!.call('exec.start', { session_id: s.session_id, command: `sh -c 'trap "" TERM; sleep 1000 & wait'` });
      assert.ok(await waitFor(() => containerTop(id).some((l) => l.includes('sleep 1000'))), 'the tree runs');
      await h.client!.call('exec.cancel', { command_id: c.command_id });
      const w = await h.client!.call('exec.wait', { command_id: c.command_id, timeout_s: 20 });
      assert.equal(w.running, false);
      assert.deepEqual(userProcesses(id), [], 'only docker-init and the holder are left');
      await h.client!.call('session.destroy', { session_id: s.session_id });
    });
  });

  describe('docker tier and the daemon’s life', { concurrency: false }, () => {
    it('after SIGKILL of the daemon, the next start removes its containers', async (t) => {
      const ws = tierWorkspace();
      const h = await startTierDaemon('docker', { flags: ['--default-working-dir', ws] });
      try {
        if (h.skip(t)) return;
        const instance = h.info.instance_id as string;
        const s = await h.client!.call('session.create', { working_dir: ws });
        const id = s.isolation.detail.container_id!;
        assert.ok(inspectRaw(id));
        h.client!.close();
        process.kill(h.daemon!.pid, 'SIGKILL');
        await h.daemon!.exited;
        // Any trl daemon starting on this machine meanwhile (another test file's) reaps a dead instance's containers at
        // once, even as this test looks: that the container outlives its daemon is seen only when none did (most runs).
        if (inspectRaw(id) === null) t.diagnostic(`another daemon reaped instance ${instance} as soon as it died`);
        const next = await startDaemon({ flags: [...DOCKER_FLAGS, '--default-working-dir', ws] });
        try {
          assert.equal(inspectRaw(id), null, "the predecessor's container is gone before the new daemon listens");
          assert.deepEqual(containersLabelled(`dev.trl.instance=${instance}`), []);
          // Any trl daemon starting on this machine reaps a dead instance's containers: another test's may have been first.
          const reaped = next
            .logs()
            .split('\n')
            .filter((l) => l.includes('reaped what a crashed daemon left behind') && l.includes(instance));
          if (reaped.length === 0) t.diagnostic(`another daemon reaped instance ${instance} before this one started`);
        } finally {
          await next.shutdownClean();
        }
      } finally {
        await h.daemon?.dispose();
        removeWorkspace(ws);
      }
    });

    it('works against an engine reached as DOCKER_HOST=tcp://127.0.0.1:PORT', async (t) => {
      const proxy = await startTcpProxy();
      const ws = tierWorkspace();
      const h = await startTierDaemon('docker', { flags: ['--default-working-dir', ws], env: { DOCKER_HOST: `tcp://127.0.0.1:${proxy.port}` } });
      try {
        if (h.skip(t)) return;
        assert.match(h.info.tiers.docker.detail, new RegExp(`tcp://127.0.0.1:${proxy.port}`));
        const s = await h.client!.call('session.create', { working_dir: ws });
        const r = await h.client!.call('exec.run', { session_id: s.session_id, command: 'cat; echo out; echo err >&2; exit 4', stdin: 'in\n' });
        assert.deepEqual([r.stdout, r.stderr, r.exit_code], ['in\nout\n', 'err\n', 4]);
        assert.ok(proxy.connections() > 0, 'the engine was reached through the TCP proxy');
        const id = s.isolation.detail.container_id!;
        await h.client!.call('session.destroy', { session_id: s.session_id });
        assert.equal(inspectRaw(id), null);
      } finally {
        await h.close();
        await proxy.close();
        removeWorkspace(ws);
      }
    });
  });

  describe('trl doctor with a docker engine', { concurrency: 1 }, () => {
    const skip = dockerSkip('trl doctor for the docker tier');
    it('reports the engine, the image (present or not, with the fix) and the network', { skip }, () => {
      const doctor = (image: string) => {
        const r = spawnSync(process.execPath, [MAIN_JS, 'doctor', '--tiers', 'host,docker', '--runtime', 'docker', '--docker-image', image, '--json'], { encoding: 'utf8', timeout: 60_000 });
        return { code: r.status, report: JSON.parse(r.stdout) };
      };
      const good = doctor(TEST_IMAGE);
      assert.equal(good.code, 0);
      const docker = good.report.tiers.find((t: any) => t.tier === 'docker');
      assert.equal(docker.available, true);
      const need = (re: RegExp) => docker.requirements.find((r: any) => re.test(r.need));
      assert.equal(need(/docker engine/).present, true);
      assert.match(need(/docker engine/).found, /API \d/);
      assert.equal(need(/default image/).present, true);
      assert.match(need(/default image/).found, new RegExp(TEST_IMAGE));
      assert.ok(need(/network/), 'the network of network: true sessions is listed');

      const missing = `trl-missing-${randomBytes(4).toString('hex')}:none`;
      const bad = doctor(missing);
      assert.equal(bad.code, 1, 'a default tier without its image does not work');
      const image = bad.report.tiers.find((t: any) => t.tier === 'docker').requirements.find((r: any) => /default image/.test(r.need));
      assert.equal(image.present, false);
      assert.match(image.found, new RegExp(`docker pull ${missing.replace(/[.:]/g, '\\$&')} or set --docker-image`));
    });
  });
});
