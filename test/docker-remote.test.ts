/**
 * The docker tier on an engine that shares no filesystem with the daemon
 * (docs/docker-tier.md#remote-engines): a second dockerd started by this
 * file (test/helpers/second-engine.ts), reached only as
 * `--docker-host tcp://127.0.0.1:PORT --docker-shared-fs no`. A session's
 * container there mounts no host path at all (the engine's own inspection
 * says so), its workspace is its own, files travel through the protocol, an
 * image without trl inside is refused with the fix, an inner trl that dies is
 * replaced and what it ran is killed, and a daemon that crashed has its
 * containers on that engine removed by the next one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, it } from 'node:test';
import { anyCall, expectCode } from './helpers/client.js';
import { MAIN_JS, startDaemon } from './helpers/daemon.js';
import { procTag } from './helpers/process-tags.js';
import { findSleeps } from './helpers/processes.js';
import { remoteFlags, startRemoteTierDaemon, type SecondEngine } from './helpers/second-engine.js';
import { removeWorkspace, startTierDaemon, TEST_IMAGE, tierWorkspace, TRL_IMAGE, type TierDaemon } from './helpers/tiers.js';
import { waitFor } from './helpers/wait.js';

let h: TierDaemon & { engine: SecondEngine | null };
let ws: string;

before(async () => {
  h = await startRemoteTierDaemon({ flags: ['--kill-grace-s', '1'] });
  ws = tierWorkspace();
});
after(async () => {
  await h?.close();
  if (ws) removeWorkspace(ws);
});

/** `docker inspect` of a container on the second engine. */
function inspect(engine: SecondEngine, id: string): any {
  return JSON.parse(engine.cli('inspect', id))[0];
}

/** Containers on the second engine labelled with a daemon's instance. */
function containersOf(engine: SecondEngine, instanceId: string): string[] {
  return engine.cli('ps', '-aq', '--filter', `label=dev.trl.instance=${instanceId}`).split('\n').filter(Boolean);
}

it("a session's container on the second engine mounts no host path; its workspace is its own and files travel through the protocol", async (t) => {
  if (h.skip(t)) return;
  const c = h.client!;
  const engine = h.engine!;
  assert.match(h.info.tiers.docker.detail, /no filesystem shared with the engine/);
  const s = await anyCall(c, 'session.create', { working_dir: ws, workspace: ws });
  const d = s.isolation.detail;
  assert.deepEqual([d.exec_path, d.engine, d.workspace], ['inner', engine.host, 'in-container']);
  const info = await anyCall(c, 'session.info', { session_id: s.session_id });
  assert.equal(info.isolation.detail.engine, engine.host, 'session.info names the engine');

  const c0 = inspect(engine, d.container_id);
  assert.deepEqual(c0.Mounts, [], `the container mounts something: ${JSON.stringify(c0.Mounts)}`);
  assert.ok(c0.HostConfig.Binds === null || c0.HostConfig.Binds.length === 0, `HostConfig.Binds: ${JSON.stringify(c0.HostConfig.Binds)}`);
  assert.ok(!c0.HostConfig.Mounts || c0.HostConfig.Mounts.length === 0, `HostConfig.Mounts: ${JSON.stringify(c0.HostConfig.Mounts)}`);
  assert.equal(c0.Config.WorkingDir, ws);

  // The workspace exists in the container, is the session user's, and is not the host's directory.
  const r = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'pwd; echo made-inside > inside.txt && stat -c %u . && ls' });
  assert.equal(r.exit_code, 0, r.stderr);
  assert.equal(r.stdout, `${ws}\n${fs.statSync(ws).uid}\ninside.txt\n`);
  assert.equal(fs.existsSync(path.join(ws, 'inside.txt')), false, "a command's file appeared in the host's directory: it is shared");

  // Files travel through the protocol, both ways.
  await anyCall(c, 'fs.write', { session_id: s.session_id, path: 'sub/from-client.txt', content: 'through the protocol\n', make_parents: true });
  assert.equal(fs.existsSync(path.join(ws, 'sub')), false, "fs.write reached the host's directory");
  const cat = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'cat sub/from-client.txt' });
  assert.equal(cat.stdout, 'through the protocol\n');
  const read = await anyCall(c, 'fs.read', { session_id: s.session_id, path: 'inside.txt' });
  assert.equal(read.content, 'made-inside\n');
  const list = await anyCall(c, 'fs.list', { session_id: s.session_id, path: '.' });
  assert.deepEqual(list.entries.map((e: { name: string }) => e.name).sort(), ['inside.txt', 'sub']);

  await anyCall(c, 'session.destroy', { session_id: s.session_id });
  assert.ok(await waitFor(() => !engine.cli('ps', '-aq').includes(d.container_id)), `container ${d.container_id} outlived its session`);
});

it('an image without trl inside is refused on that engine, with the fix', async (t) => {
  if (h.skip(t)) return;
  const engine = h.engine!;
  // The image is there: the refusal is about what it lacks, not a missing image.
  engine.load(TEST_IMAGE);
  const err = await expectCode(h.client!, 'session.create', { working_dir: ws, workspace: ws, image: TEST_IMAGE }, 'RUNTIME_UNAVAILABLE');
  assert.match(err.message, /has no trl inside/);
  assert.match(err.message, /scripts\/build-trl-image\.sh/);
  assert.match(err.message, /--docker-shared-fs/);
  assert.deepEqual(
    containersOf(engine, h.info.instance_id).filter((id) => engine.cli('inspect', '--format', '{{.Config.Image}}', id).trim() !== TRL_IMAGE),
    [],
    'a container of the refused image was left on the engine',
  );
});

it('trl doctor says whether the default image can run on an engine that shares no filesystem', (t) => {
  if (h.skip(t)) return;
  const engine = h.engine!;
  engine.load(TEST_IMAGE);
  const doctor = (image: string) => {
    const argv = [MAIN_JS, 'doctor', '--tiers', 'host,docker', '--runtime', 'docker', ...remoteFlags(engine), '--docker-image', image, '--json'];
    const r = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 120_000 });
    const docker = JSON.parse(r.stdout).tiers.find((x: any) => x.tier === 'docker');
    return docker.requirements.find((x: any) => /trl inside/.test(x.need));
  };
  const good = doctor(TRL_IMAGE);
  assert.equal(good.present, true, JSON.stringify(good));
  const bad = doctor(TEST_IMAGE);
  assert.equal(bad.present, false, JSON.stringify(bad));
  assert.match(bad.found, /has no trl inside/);
  assert.match(bad.found, /scripts\/build-trl-image\.sh/);
});

it('an inner trl that dies ends its command, the next command starts a new one, and what the dead one ran is killed (no FIFO)', async (t) => {
  if (h.skip(t)) return;
  const c = h.client!;
  const engine = h.engine!;
  const s = await anyCall(c, 'session.create', { working_dir: ws, workspace: ws });
  const container = s.isolation.detail.container_id as string;
  const started = await anyCall(c, 'exec.start', { session_id: s.session_id, command: 'echo begun; sleep 31877' });
  assert.ok(await waitFor(async () => (await anyCall(c, 'exec.output', { command_id: started.command_id })).data === 'begun\n'));
  const innerPids = () =>
    engine
      .cli('exec', container, 'ps', '-o', 'pid,args')
      .split('\n')
      .filter((l) => l.includes('/opt/trl/dist/trl/trl.js rpc'))
      .map((l) => l.trim().split(/\s+/)[0]!);
  const before = innerPids();
  assert.equal(before.length, 1, `one inner trl expected, found ${before.join(' ')}`);
  engine.cli('exec', container, 'kill', '-9', before[0]!);

  const ended = await anyCall(c, 'exec.wait', { command_id: started.command_id });
  assert.equal(ended.signal, 'SIGKILL');
  assert.match(ended.stderr, /inner trl/);
  const next = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'echo again; ps -o args | grep -c "[s]leep 31877"' });
  assert.equal(next.stdout, 'again\n0\n', 'the next command did not run, or the dead command left its process behind');
  assert.notDeepEqual(innerPids(), before, 'the inner trl was not restarted');
  await anyCall(c, 'session.destroy', { session_id: s.session_id });
});

it('a daemon started after one that was SIGKILLed removes its containers from the second engine', async (t) => {
  if (h.skip(t)) return;
  const engine = h.engine!;
  // The suite's workspace as the default working directory: the victim is SIGKILLed and disposed of,
  // never closed, so a default workspace made for it (startTierDaemon) would be left in /tmp.
  const flags = ['--kill-grace-s', '1', '--default-working-dir', ws, ...remoteFlags(engine)];
  const victim = await startTierDaemon('docker', { dockerImage: TRL_IMAGE, flags });
  let successor: TierDaemon | null = null;
  try {
    const vc = victim.client!;
    const victimInstance: string = victim.info.instance_id;
    const s = await anyCall(vc, 'session.create', { working_dir: ws, workspace: ws });
    await anyCall(vc, 'exec.start', { session_id: s.session_id, command: 'sleep 31879' });
    assert.equal(containersOf(engine, victimInstance).length, 1);
    vc.close();
    await victim.daemon!.stop('SIGKILL');
    // The crash left the container running: that is what the successor must remove.
    assert.equal(inspect(engine, s.isolation.detail.container_id).State.Running, true);

    successor = await startTierDaemon('docker', { dockerImage: TRL_IMAGE, flags });
    assert.ok(await waitFor(() => containersOf(engine, victimInstance).length === 0), `the SIGKILLed daemon's containers are still on the engine: ${containersOf(engine, victimInstance).join(' ')}`);
    // The running daemon's own containers are left alone (none of its sessions is live now, but it is not dead).
    await expectCode(successor.client!, 'session.info', { session_id: s.session_id }, 'SESSION_NOT_FOUND');
  } finally {
    await victim.daemon?.dispose();
    await successor?.close();
  }
});

it("a daemon starting on this machine leaves the inner trl's commands alone (their tags name pids of the container's namespace)", async (t) => {
  if (h.skip(t)) return;
  const c = h.client!;
  const s = await anyCall(c, 'session.create', { working_dir: ws, workspace: ws });
  const started = await anyCall(c, 'exec.start', { session_id: s.session_id, command: 'echo begun; sleep 31881' });
  assert.ok(await waitFor(async () => (await anyCall(c, 'exec.output', { command_id: started.command_id })).data === 'begun\n'));
  // The inner trl's instance, as its command's tag names it (seen from here: the container's processes are this machine's).
  // "begun" is written before the shell has forked and exec'd the sleep: wait for the sleep itself.
  let sleeps: number[] = [];
  assert.ok(await waitFor(() => (sleeps = findSleeps(31881)).length === 1), `the inner command's sleep: ${sleeps.join(',')}`);
  const innerInstance = procTag(sleeps[0]!)?.split(':')[0];
  assert.ok(innerInstance, "the inner command carries the inner trl's tag");
  // Its start-up looks for what dead daemons left: tagged processes whose daemon's pid is not a live trl.
  const other = await startDaemon({ flags: ['--tiers', 'host'] });
  try {
    // (What a dead daemon elsewhere on this machine left, another test's, it may reap: only the inner trl's instance counts.)
    const reaped = other
      .logs()
      .split('\n')
      .filter((l) => l.includes('reaped what a crashed daemon left behind') && l.includes(innerInstance));
    assert.deepEqual(reaped, [], "the daemon took a process of the inner trl for a dead daemon's");
    const info = await anyCall(c, 'exec.info', { command_id: started.command_id });
    assert.equal(info.state, 'running', `the inner trl's command ended when another daemon started: ${JSON.stringify(info)}`);
  } finally {
    await other.shutdownClean();
    await anyCall(c, 'session.destroy', { session_id: s.session_id });
  }
});
