/**
 * The docker tier's inner path (docs/docker-tier.md): a session of an image
 * with trl inside (trl-test:trl) runs its commands through the trl in its
 * container, says so in session.info, and survives that trl's death — the
 * command it was running ends with a line saying why (no hang), the next
 * command starts a new inner trl, and no process of the session is left once
 * it is destroyed.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { anyCall } from './helpers/client.js';
import { startDaemon } from './helpers/daemon.js';
import { dockerCli } from './helpers/docker.js';
import { removeWorkspace, startTierDaemon, tierWorkspace, TRL_IMAGE, type TierDaemon } from './helpers/tiers.js';
import { waitFor } from './helpers/wait.js';

let h: TierDaemon;
let ws: string;

before(async () => {
  h = await startTierDaemon('docker', { dockerImage: TRL_IMAGE, flags: ['--kill-grace-s', '1'] });
  ws = tierWorkspace();
});
after(async () => {
  await h?.close();
  if (ws) removeWorkspace(ws);
});

/** The pids of the inner trl's node in the container (`ps` run through docker itself, not through trl). */
function innerTrlPids(container: string): string[] {
  return dockerCli('exec', container, 'ps', '-o', 'pid,args')
    .split('\n')
    .filter((l) => l.includes('/opt/trl/dist/trl/trl.js rpc'))
    .map((l) => l.trim().split(/\s+/)[0]!);
}

it('a session of an image with trl inside takes the inner path and keeps its shell state', async (t) => {
  if (h.skip(t)) return;
  const c = h.client!;
  const s = await anyCall(c, 'session.create', { working_dir: ws, workspace: ws });
  assert.equal(s.isolation.detail.exec_path, 'inner');
  const r1 = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'cd /tmp && export INNER_X=1; echo out; echo err >&2; exit 7' });
  assert.deepEqual([r1.stdout, r1.stderr, r1.exit_code, r1.working_dir], ['out\n', 'err\n', 7, '/tmp']);
  const r2 = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'echo "$INNER_X $(pwd)"; ps -o args | grep -c "[t]rl/trl.js rpc"' });
  assert.equal(r2.stdout, '1 /tmp\n1\n', 'the state did not persist, or the command did not run under the inner trl');
  await anyCall(c, 'session.destroy', { session_id: s.session_id });
});

it('an inner trl that dies ends its running command with the reason, and the next command starts a new one', async (t) => {
  if (h.skip(t)) return;
  const c = h.client!;
  const s = await anyCall(c, 'session.create', { working_dir: ws, workspace: ws });
  const container = s.isolation.detail.container_id as string;
  const started = await anyCall(c, 'exec.start', { session_id: s.session_id, command: 'echo begun; sleep 31871' });
  assert.ok(await waitFor(async () => (await anyCall(c, 'exec.output', { command_id: started.command_id })).data === 'begun\n'));
  const before = innerTrlPids(container);
  assert.equal(before.length, 1, `one inner trl expected, found ${before.join(' ')}`);
  dockerCli('exec', container, 'kill', '-9', before[0]!);

  const ended = await anyCall(c, 'exec.wait', { command_id: started.command_id });
  assert.equal(ended.signal, 'SIGKILL');
  assert.match(ended.stderr, /inner trl/);
  const next = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'echo again; ps -o args | grep -c "[s]leep 31871"' });
  assert.equal(next.stdout, 'again\n0\n', 'the next command did not run, or the dead command left its process behind');
  const after = innerTrlPids(container);
  assert.equal(after.length, 1);
  assert.notEqual(after[0], before[0], 'the inner trl was not restarted');

  await anyCall(c, 'session.destroy', { session_id: s.session_id });
  assert.ok(await waitFor(() => !dockerCli('ps', '-a', '--format', '{{.ID}}').includes(container)), `container ${container} outlived its session`);
});

it('a trl daemon starting on the host leaves the inner trl’s commands alone (its instance id names no host pid)', async (t) => {
  if (h.skip(t)) return;
  const c = h.client!;
  const s = await anyCall(c, 'session.create', { working_dir: ws, workspace: ws });
  const started = await anyCall(c, 'exec.start', { session_id: s.session_id, command: 'echo begun; sleep 31873' });
  assert.ok(await waitFor(async () => (await anyCall(c, 'exec.output', { command_id: started.command_id })).data === 'begun\n'));
  // A daemon that starts reaps dead instances' tagged processes, which it sees in the container through its own /proc.
  const other = await startDaemon({ flags: ['--tiers', 'host'] });
  try {
    const info = await anyCall(c, 'exec.info', { command_id: started.command_id });
    assert.equal(info.state, 'running', `the command was ended by the other daemon's start: ${JSON.stringify(info)}`);
    const ps = await anyCall(c, 'exec.run', { session_id: s.session_id, command: 'ps -o args | grep -c "[s]leep 31873"' });
    assert.equal(ps.stdout, '1\n');
  } finally {
    await other.dispose();
    await anyCall(c, 'session.destroy', { session_id: s.session_id });
  }
});
