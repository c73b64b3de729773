/**
 * A docker session created with network: true really has the network, or is
 * refused with the fix (issue 12, item 15). The engine itself does not
 * refuse: `NetworkMode: bridge` on an engine started with --bridge=none gives
 * a container with loopback only. Against the real engine and test image.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { connect, expectCode, type TrlClient } from './helpers/client.js';
import { startDaemon, type Daemon } from './helpers/daemon.js';
import { dockerSkip, removeWorkspace, TEST_IMAGE, tierWorkspace } from './helpers/docker.js';
import { runCli } from './helpers/secrets.js';

const skip = dockerSkip('the docker network check');

/** Whether the engine has a network of that name. */
function engineHasNetwork(name: string): boolean {
  return spawnSync('docker', ['network', 'inspect', name], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

interface Running {
  d: Daemon;
  c: TrlClient;
  close(): Promise<void>;
}

/** A daemon whose docker sessions ask `network` for network: true (none: the daemon default, bridge). */
async function dockerDaemon(ws: string, network: string | null): Promise<Running> {
  const flags = ['--tiers', 'host,docker', '--docker-image', TEST_IMAGE, '--default-working-dir', ws];
  if (network !== null) flags.push('--docker-network', network);
  const d = await startDaemon({ flags });
  const c = await connect(d);
  return {
    d,
    c,
    close: async () => {
      c.close();
      await d.shutdownClean();
    },
  };
}

/** Interface names a command in the session sees (from /proc/net/dev). */
async function interfaces(c: TrlClient, session_id: string): Promise<string[]> {
  const r = await c.call('exec.run', { session_id, command: 'cat /proc/net/dev' });
  assert.equal(r.exit_code, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter((l: string) => /^\s*[\w.-]+:/.test(l))
    .map((l: string) => l.trim().split(':')[0]!);
}

describe('docker sessions with network: true', { skip }, () => {
  let ws = '';
  before(() => {
    ws = tierWorkspace();
  });
  after(() => removeWorkspace(ws));

  it('a --docker-network that does not exist: network: true is refused naming docker network create; the tier still serves network: false', async () => {
    const missing = `trl-missing-${randomBytes(4).toString('hex')}`;
    const r = await dockerDaemon(ws, missing);
    try {
      const info = await r.c.call('system.info', {});
      assert.equal(info.tiers?.docker?.available, true, 'sessions without a network still work');
      assert.match(info.tiers?.docker?.detail ?? '', new RegExp(`sessions with network: true are refused: docker network ${missing} does not exist`));
      const e = await expectCode(r.c, 'session.create', { runtime: 'docker', workspace: ws, network: true }, 'RUNTIME_UNAVAILABLE');
      assert.match(e.message, new RegExp(`docker network ${missing} does not exist: docker network create ${missing}, or set --docker-network`));
      assert.equal((await r.c.call('session.list', {})).sessions.length, 0, 'no session is left behind');
      const cut = await r.c.call('session.create', { runtime: 'docker', workspace: ws });
      assert.deepEqual(await interfaces(r.c, cut.session_id), ['lo']);
      await r.c.call('session.destroy', { session_id: cut.session_id, force: true });
    } finally {
      await r.close();
    }
  });

  it('--docker-network none (no connectivity) is refused for network: true too, through the CLI', async () => {
    const r = await dockerDaemon(ws, 'none');
    try {
      const cli = await runCli(['session', 'create', '--runtime', 'docker', '--workspace', ws, '--network', '--socket', r.d.socketPath]);
      assert.equal(cli.code, 1, cli.stdout + cli.stderr);
      assert.match(cli.stderr, /RUNTIME_UNAVAILABLE: could not start a 'docker' session: docker network none has no connectivity \(driver null\).*set --docker-network/);
    } finally {
      await r.close();
    }
  });

  it('the default network, bridge, on an engine without one (dockerd --bridge=none): refused, naming the fix', async (t) => {
    if (engineHasNetwork('bridge')) return t.skip('this engine has a bridge network: the refusal cannot happen here');
    const r = await dockerDaemon(ws, null);
    try {
      const e = await expectCode(r.c, 'session.create', { runtime: 'docker', workspace: ws, network: true }, 'RUNTIME_UNAVAILABLE');
      assert.match(e.message, /has no bridge network .*loopback only: create a network \(docker network create trl\) and start trl with --docker-network trl .*or use --docker-network host/);
    } finally {
      await r.close();
    }
    const doctor = await runCli(['doctor', '--tiers', 'host,docker', '--runtime', 'docker', '--docker-image', TEST_IMAGE, '--default-working-dir', ws, '--json']);
    const docker = JSON.parse(doctor.stdout).tiers.find((x: { tier: string }) => x.tier === 'docker');
    const need = docker.requirements.find((q: { need: string }) => /network/.test(q.need));
    assert.equal(need.present, false);
    assert.match(need.found, /has no bridge network/);
  });

  it('a network that exists: the session is created and sees more than loopback', async () => {
    const r = await dockerDaemon(ws, 'host');
    try {
      const s = await r.c.call('session.create', { runtime: 'docker', workspace: ws, network: true });
      assert.equal(s.isolation.network, true);
      assert.ok(
        (await interfaces(r.c, s.session_id)).some((i) => i !== 'lo'),
        'an interface besides lo',
      );
      await r.c.call('session.destroy', { session_id: s.session_id, force: true });
    } finally {
      await r.close();
    }
  });
});
