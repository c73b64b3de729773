/**
 * Crash recovery (docs/security.md, process trees, §5): a daemon killed with SIGKILL cannot clean
 * up, so the next daemon started on the same socket must — it kills every
 * process its predecessor left (background commands, setsid'd children,
 * children that scrubbed their environment but stayed in the session cgroup),
 * removes the predecessor's cgroups and replaces the stale socket. A daemon on
 * another socket, alive all along, keeps its sessions and processes.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import { cgroupDirsNamed, cgroupSkip } from './helpers/cgroups.js';
import { anyCall, connect, type TrlClient } from './helpers/client.js';
import { orphansAfterCrash, untilDecisive } from './helpers/crash-race.js';
import { canConnect, type Daemon, makeTempDir, startDaemon } from './helpers/daemon.js';
import { taggedProcs } from './helpers/process-tags.js';
import { findSleeps, killPids, procAlive, sleepTokens } from './helpers/processes.js';
import { waitFor } from './helpers/wait.js';

const MODES = [
  { name: 'per-session cgroups', flags: [] as string[], cgroups: true },
  { name: '/proc-scan fallback (--cgroups off)', flags: ['--cgroups', 'off'], cgroups: false },
];

for (const mode of MODES) {
  describe(`crash recovery: ${mode.name}`, { skip: mode.cgroups ? cgroupSkip('cgroup-based crash recovery') : false }, () => {
    const instances: string[] = [];
    const { token, kill: killTokens } = sleepTokens();
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const f of cleanups.splice(0).reverse()) await f().catch(() => undefined);
      killTokens();
      for (const i of instances) killPids(taggedProcs(`${i}:`));
    });

    it('a daemon started on the socket of a SIGKILLed one kills what it left, removes its cgroups and replaces the socket; another daemon is left alone', async () => {
      await untilDecisive('crash and successor', async () => {
        // the bystander: another daemon on another socket, running all along
        const other: Daemon = await startDaemon({ flags: mode.flags });
        cleanups.push(() => other.shutdownClean());
        const oc: TrlClient = await connect(other);
        cleanups.push(async () => oc.close());
        const otherInstance = (await anyCall(oc, 'system.info')).instance_id;
        const os = await anyCall(oc, 'session.create', {});
        const [m1, m2] = [token(), token()];
        await anyCall(oc, 'exec.start', { session_id: os.session_id, command: `sleep ${m1}` });
        await anyCall(oc, 'exec.run', { session_id: os.session_id, command: `setsid sleep ${m2} &` });

        // the victim
        const dir = makeTempDir();
        cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
        const victim = await startDaemon({ dir, flags: mode.flags });
        cleanups.push(() => victim.stop('SIGKILL').then(() => undefined));
        const vc = await connect(victim);
        const info = await anyCall(vc, 'system.info');
        const victimInstance: string = info.instance_id;
        instances.push(victimInstance, otherInstance);
        const record = JSON.parse(fs.readFileSync(`${victim.socketPath}.daemon.json`, 'utf8'));
        assert.equal(record.instance_id, victimInstance, 'the daemon record names the instance');
        assert.equal(record.pid, victim.pid, 'the daemon record names the pid');
        assert.equal(fs.statSync(`${victim.socketPath}.daemon.json`).mode & 0o077, 0, 'the daemon record is private');

        const s = await anyCall(vc, 'session.create', {});
        const [n1, n2, n3, n4] = [token(), token(), token(), token()];
        await anyCall(vc, 'exec.start', { session_id: s.session_id, command: `sleep ${n1}` });
        await anyCall(vc, 'exec.run', { session_id: s.session_id, command: `setsid sleep ${n2} & (sleep ${n3} &) & echo ok` });
        const victims = [n1, n2, n3];
        if (mode.cgroups) {
          // no tag in its environment, a new session and process group: only the session cgroup knows it
          await anyCall(vc, 'exec.run', { session_id: s.session_id, command: `env -i /usr/bin/setsid sleep ${n4} >/dev/null 2>&1 &` });
          victims.push(n4);
        }
        // a second session, with a background command of its own
        const s2 = await anyCall(vc, 'session.create', {});
        const n5 = token();
        await anyCall(vc, 'exec.start', { session_id: s2.session_id, command: `setsid sleep ${n5}` });
        victims.push(n5);
        const all = [...victims, m1, m2];
        assert.ok(await waitFor(() => all.every((n) => findSleeps(n).length === 1)), `not all sleeps started: ${all.filter((n) => findSleeps(n).length !== 1).join(', ')}`);
        const victimPids = victims.map((n) => findSleeps(n)[0]!);
        if (mode.cgroups) assert.ok(cgroupDirsNamed(victimInstance).length > 0, 'the victim has no cgroups to leave behind');

        vc.close();
        await victim.stop('SIGKILL');
        // the crash left everything behind: that is what the successor must clean up
        if ((await orphansAfterCrash(victimPids)) === 'reaped') return 'raced';
        assert.ok(fs.existsSync(victim.socketPath), 'the SIGKILLed daemon left no stale socket (the test expects one)');
        assert.equal(await canConnect(victim.socketPath), false);

        const successor = await startDaemon({ dir, flags: mode.flags });
        cleanups.push(() => successor.shutdownClean());
        const gone = await waitFor(() => victimPids.every((p) => !procAlive(p)));
        const left = victims.filter((n) => findSleeps(n).length > 0);
        assert.ok(gone, `after the successor started, the predecessor's processes are still alive: ${left.map((n) => `sleep ${n}`).join(', ')}`);
        assert.deepEqual(taggedProcs(`${victimInstance}:`), [], "processes tagged with the predecessor's instance are alive");
        if (mode.cgroups) {
          assert.ok(await waitFor(() => cgroupDirsNamed(victimInstance).length === 0), `the predecessor's cgroups are still there: ${cgroupDirsNamed(victimInstance).join(', ')}`);
        }
        // the stale socket was replaced by a live one, and the record names the successor
        const sc = await connect(successor);
        cleanups.push(async () => sc.close());
        const sinfo = await anyCall(sc, 'system.info');
        assert.equal(sinfo.pid, successor.pid);
        assert.notEqual(sinfo.instance_id, victimInstance);
        const record2 = JSON.parse(fs.readFileSync(`${successor.socketPath}.daemon.json`, 'utf8'));
        assert.deepEqual([record2.instance_id, record2.pid], [sinfo.instance_id, successor.pid]);
        assert.deepEqual((await anyCall(sc, 'session.list')).sessions, [], 'the successor does not inherit sessions');
        const r = await anyCall(sc, 'exec.run', { command: 'echo fresh' });
        assert.equal(r.stdout, 'fresh\n');

        // the bystander kept everything
        assert.equal(findSleeps(m1).length, 1, "the other daemon's background command was killed");
        assert.equal(findSleeps(m2).length, 1, "the other daemon's detached process was killed");
        assert.ok(
          (await anyCall(oc, 'session.list')).sessions.some((x: { session_id: string }) => x.session_id === os.session_id),
          'the other daemon lost its session',
        );
        const still = await anyCall(oc, 'exec.run', { session_id: os.session_id, command: 'echo still' });
        assert.equal(still.stdout, 'still\n');
        if (mode.cgroups) assert.ok(cgroupDirsNamed(otherInstance).length > 0, "the other daemon's cgroups were removed");
        return 'decisive';
      });
    });

    it('a successor of a daemon that crashed with nothing running starts normally', async () => {
      const dir = makeTempDir();
      cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
      const first = await startDaemon({ dir, flags: mode.flags });
      cleanups.push(() => first.stop('SIGKILL').then(() => undefined));
      await first.stop('SIGKILL');
      const second = await startDaemon({ dir, flags: mode.flags });
      cleanups.push(() => second.shutdownClean());
      const c = await connect(second);
      assert.equal((await anyCall(c, 'exec.run', { command: 'echo ok' })).stdout, 'ok\n');
      c.close();
    });

    it('a daemon on another socket reaps what a SIGKILLed daemon left (its instance id names its dead pid)', async () => {
      await untilDecisive('crash and another daemon', async () => {
        const victim = await startDaemon({ flags: mode.flags });
        cleanups.push(async () => {
          await victim.stop('SIGKILL');
          fs.rmSync(victim.dir, { recursive: true, force: true });
        });
        const c = await connect(victim);
        const instance = (await anyCall(c, 'system.info', {})).instance_id as string;
        instances.push(instance);
        const n = token();
        const s = await anyCall(c, 'session.create', {});
        await anyCall(c, 'exec.run', { session_id: s.session_id, command: `setsid sleep ${n} & (sleep ${n} &) & echo ok` });
        assert.ok(await waitFor(() => findSleeps(n).length === 2), 'the sleeps did not start');
        const orphans = findSleeps(n);
        c.close();
        await victim.stop('SIGKILL');
        if ((await orphansAfterCrash(orphans)) === 'reaped') return 'raced';
        const other = await startDaemon({ flags: mode.flags });
        cleanups.push(() => other.shutdownClean());
        assert.ok(await waitFor(() => findSleeps(n).length === 0), 'a daemon on another socket did not reap the dead instance');
        if (mode.cgroups) assert.ok(await waitFor(() => cgroupDirsNamed(instance).length === 0), "the dead instance's cgroups remain");
        return 'decisive';
      });
    });
  });
}
