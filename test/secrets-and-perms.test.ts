/**
 * docs/security.md–5: env values never appear in responses or logs (even at debug
 * level), the socket is 0600 in a 0700 directory, a second daemon on a live
 * socket refuses to start, and SIGTERM leaves no process and no socket.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from './helpers/client.js';
import { canConnect, type Daemon, exitWithin, makeTempDir, startDaemon } from './helpers/daemon.js';
import { assertSleepsGone, descendants, findSleeps, killSleeps, procAlive, procCmdline, uniqueSleep } from './helpers/processes.js';
import { rawCall, rawConnect } from './helpers/raw-connection.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Every file under dir (recursively, modified since `since`) whose content contains one of the needles. */
function filesContaining(dir: string, needles: string[], since = 0): string[] {
  const hits: string[] = [];
  const walk = (p: string, depth: number) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory() && depth < 6) {
      let names: string[] = [];
      try {
        names = fs.readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) walk(path.join(p, n), depth + 1);
    } else if (st.isFile() && st.size < 20 * 1024 * 1024 && st.mtimeMs >= since) {
      try {
        const content = fs.readFileSync(p, 'latin1');
        if (needles.some((n) => content.includes(n))) hits.push(p);
      } catch {
        /* unreadable */
      }
    }
  };
  walk(dir, 0);
  return hits;
}

// The suites side by side (daemons and directories of their own), the tests of each one after the other.
describe('secrets and permissions', { concurrency: true }, () => {
  describe('secrets never leave the environment', { concurrency: 1 }, () => {
    let d: Daemon;
    // distinct, unguessable values planted at each injection point
    const S_CREATE = `createsecret-${randomUUID()}`;
    const S_UPDATE = `updatesecret-${randomUUID()}`;
    const S_CMD = `cmdsecret-${randomUUID()}`;
    const S_BAD = `badreqsecret-${randomUUID()}`;
    const S_NUL = `nulsecret-${randomUUID()}`;
    const S_DAEMON = `daemonenvsecret-${randomUUID()}`;
    const S_STDIN = `stdinsecret-${randomUUID()}`;
    const S_AUTH = `authtoken-${randomUUID()}-${randomUUID()}`;
    const ALL = [S_CREATE, S_UPDATE, S_CMD, S_BAD, S_NUL, S_STDIN, S_AUTH];
    const responses: string[] = [];
    const started = Date.now() - 1000;

    before(async () => {
      d = await startDaemon({ env: { PLANTED_DAEMON_ENV_VALUE: S_DAEMON, TRL_AUTH_TOKEN: S_AUTH } });
    });
    after(async () => {
      await d?.shutdownClean();
    });

    it('values reach the commands but no response carries them (info, list, run, errors)', async () => {
      const conn = await rawConnect(d.socketPath);
      let n = 0;
      const call = async (method: string, params: Record<string, unknown>) => {
        const r = await rawCall(conn, ++n, method, params);
        responses.push(JSON.stringify(r));
        return r;
      };
      const created = await call('session.create', { env: { PLAIN_VALUE_A: S_CREATE, API_TOKEN: S_CREATE } });
      assert.equal(created.ok, true, JSON.stringify(created));
      const sid = created.data.session_id as string;
      assert.deepEqual([...created.data.env_keys].sort(), ['API_TOKEN', 'PLAIN_VALUE_A']);

      const upd = await call('session.update', { session_id: sid, env: { PLAIN_VALUE_B: S_UPDATE } });
      assert.equal(upd.ok, true, JSON.stringify(upd));
      assert.deepEqual([...upd.data.env_keys].sort(), ['API_TOKEN', 'PLAIN_VALUE_A', 'PLAIN_VALUE_B']);

      // the commands get the exact values (proved by hash, never printed)
      const r = await call('exec.run', {
        session_id: sid,
        command: 'printf %s "$PLAIN_VALUE_A" | sha256sum | cut -c1-64; printf %s "$PLAIN_VALUE_B" | sha256sum | cut -c1-64; printf %s "$PLAIN_VALUE_C" | sha256sum | cut -c1-64',
        env: { PLAIN_VALUE_C: S_CMD },
      });
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.data.stdout, `${sha(S_CREATE)}\n${sha(S_UPDATE)}\n${sha(S_CMD)}\n`);

      // runtime-level env (the daemon's own environment) reaches commands; the daemon's own secret does not
      const rt = await call('exec.run', {
        session_id: sid,
        command: 'printf %s "$PLANTED_DAEMON_ENV_VALUE" | sha256sum | cut -c1-64; echo "${TRL_AUTH_TOKEN-unset}"',
      });
      assert.equal(rt.data.stdout, `${sha(S_DAEMON)}\nunset\n`, 'TRL_AUTH_TOKEN must never be passed to children');

      // stdin payloads are not logged or echoed either
      const st = await call('exec.run', { session_id: sid, command: 'sha256sum | cut -c1-64', stdin: S_STDIN });
      assert.equal(st.data.stdout, `${sha(S_STDIN)}\n`);

      // env, export, a failing checked command, a timed-out one: results carry no values
      await call('exec.run', { session_id: sid, command: 'export EXPORTED_COPY="$PLAIN_VALUE_A"; cd /tmp', env: { PLAIN_VALUE_C: S_CMD } });
      const failed = await call('exec.run', { session_id: sid, command: 'exit 9', env: { PLAIN_VALUE_C: S_CMD }, check: true });
      assert.equal(failed.error?.code, 'COMMAND_FAILED');
      const timedOut = await call('exec.run', { session_id: sid, command: 'sleep 5', env: { PLAIN_VALUE_C: S_CMD }, timeout_s: 0.3 });
      assert.equal(timedOut.data.timed_out, true);
      // the daemon's own environment is not inherited by the session's view of env_keys and not reported
      const info = await call('session.info', { session_id: sid });
      assert.ok(!JSON.stringify(info).includes('PLANTED_DAEMON_ENV_VALUE'), 'session.info lists a daemon env key');
      await call('session.list', {});
      await call('system.info', {});
      await call('system.stats', {});

      // bad requests carrying secrets: the error must describe the problem without echoing the value
      const bad = await call('session.create', { env: { 'BAD-NAME': S_BAD, GOOD: S_BAD } });
      assert.equal(bad.error?.code, 'INVALID_PARAMS');
      const nul = await call('exec.run', { session_id: sid, command: 'true', env: { WITH_NUL: `${S_NUL}\u0000tail` } });
      assert.equal(nul.error?.code, 'INVALID_PARAMS');
      const badType = await call('session.update', { session_id: sid, env: { OK_NAME: S_BAD, NUM: 5 } });
      assert.equal(badType.error?.code, 'INVALID_PARAMS');

      const destroyed = await call('session.destroy', { session_id: sid });
      assert.equal(destroyed.ok, true);
      conn.close();

      for (const [i, resp] of responses.entries()) {
        for (const s of [...ALL, S_DAEMON]) {
          assert.ok(!resp.includes(s), `response #${i + 1} contains a planted env value: ${resp.slice(0, 400)}`);
        }
      }
    });

    it('the daemon logs (debug level) name keys but never values', async () => {
      const code = await d.stop();
      assert.equal(code, 0);
      const logs = d.logs();
      assert.ok(logs.length > 0, 'the daemon logged nothing at --log-level debug');
      for (const s of [...ALL, S_DAEMON]) {
        const at = logs.indexOf(s);
        assert.equal(at, -1, `a planted value appears in the daemon logs: …${logs.slice(Math.max(0, at - 200), at + 100)}…`);
      }
    });

    it("no file in the daemon's directory or /tmp holds a planted value", () => {
      const hits = [...filesContaining(d.dir, ALL), ...filesContaining('/tmp', ALL, started)];
      assert.deepEqual(hits, [], `files containing an env value: ${hits.join(', ')}`);
    });
  });

  describe('socket permissions and single instance', { concurrency: 1 }, () => {
    let d: Daemon;
    let base: string;
    let socketPath: string;

    before(async () => {
      base = makeTempDir('/tmp/trl-perm-');
      // a directory the daemon must create itself
      socketPath = path.join(base, 'run', 'trl.sock');
      d = await startDaemon({ socketPath, dir: base });
    });
    after(async () => {
      await d?.stop();
      if (base) fs.rmSync(base, { recursive: true, force: true });
    });

    it('the socket is 0600 and the directory the daemon created for it is 0700', () => {
      const st = fs.statSync(socketPath);
      assert.ok(st.isSocket(), 'not a socket');
      assert.equal((st.mode & 0o777).toString(8), '600');
      const dst = fs.statSync(path.dirname(socketPath));
      assert.equal((dst.mode & 0o777).toString(8), '700');
      assert.equal(dst.uid, process.getuid!());
    });

    it('the default runtime directory ($XDG_RUNTIME_DIR/trl) is 0700 with a 0600 socket', async () => {
      const xdg = makeTempDir('/tmp/trl-xdg-');
      // if the daemon wrongly falls back to /tmp/trl-<uid>, do not leave that directory behind
      const fallbackDir = `/tmp/trl-${process.getuid!()}`;
      const fallbackExisted = fs.existsSync(fallbackDir);
      const sock = path.join(xdg, 'trl', 'trl.sock');
      const d2 = await startDaemon({ socketPath: null, env: { XDG_RUNTIME_DIR: xdg }, dir: xdg, noWait: true });
      try {
        assert.equal(d2.socketPath, sock);
        const listening = await waitFor(() => canConnect(sock), DEADLINE_MS, 50);
        assert.ok(listening, `the daemon does not listen on ${sock}; it said:\n${d2.logs().slice(0, 1500)}`);
        assert.equal((fs.statSync(sock).mode & 0o777).toString(8), '600');
        assert.equal((fs.statSync(path.dirname(sock)).mode & 0o777).toString(8), '700');
        assert.ok(await canConnect(sock));
      } finally {
        const code = await d2.stop();
        fs.rmSync(xdg, { recursive: true, force: true });
        if (!fallbackExisted) {
          try {
            fs.rmdirSync(fallbackDir); // only if empty: never touch another daemon's files
          } catch {
            /* not there, or in use */
          }
        }
        assert.equal(code, 0);
      }
    });

    it('a second daemon on the same socket refuses to start and leaves the first one working', async () => {
      const second = await startDaemon({ socketPath, dir: base, noWait: true });
      const code = await exitWithin(second);
      if (code === 'timeout') {
        await second.stop('SIGKILL');
        assert.fail('the second daemon did not exit');
      }
      assert.notEqual(code, 0, 'the second daemon exited 0');
      assert.match(second.logs(), /already running/i);
      // the first still owns the socket
      assert.ok(fs.existsSync(socketPath), "the second daemon removed the first one's socket");
      const c = await connect(socketPath);
      const pong = await c.call('system.ping', {});
      assert.equal(typeof pong.uptime_s, 'number');
      c.close();
      assert.equal(d.hasExited(), false);
    });

    it('refuses an unsafe socket directory (group/world-accessible, symlink) and a non-socket file at the path', async () => {
      const root = makeTempDir('/tmp/trl-unsafe-');
      try {
        const open = path.join(root, 'open');
        fs.mkdirSync(open, { mode: 0o755 });
        fs.chmodSync(open, 0o755);
        const real = path.join(root, 'real');
        fs.mkdirSync(real, { mode: 0o700 });
        fs.symlinkSync(real, path.join(root, 'link'));
        const safe = path.join(root, 'safe');
        fs.mkdirSync(safe, { mode: 0o700 });
        fs.writeFileSync(path.join(safe, 'trl.sock'), 'precious');
        for (const [what, sock, pattern] of [
          ['a 0755 directory', path.join(open, 'trl.sock'), /755|group|others|chmod/i],
          ['a symlinked directory', path.join(root, 'link', 'trl.sock'), /symlink/i],
          ['a regular file at the socket path', path.join(safe, 'trl.sock'), /not a socket/i],
        ] as const) {
          const bad = await startDaemon({ socketPath: sock, dir: root, noWait: true });
          const code = await exitWithin(bad);
          if (code === 'timeout') await bad.stop('SIGKILL');
          assert.notEqual(code, 'timeout', `${what}: the daemon started`);
          assert.notEqual(code, 0, `${what}: exit code 0`);
          assert.match(bad.logs(), pattern, `${what}: unhelpful message: ${bad.logs().slice(0, 500)}`);
        }
        assert.equal(fs.readFileSync(path.join(safe, 'trl.sock'), 'utf8'), 'precious', 'the daemon replaced a regular file');
        assert.deepEqual(fs.readdirSync(open), []);
        assert.deepEqual(fs.readdirSync(real), []);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });

    it('SIGTERM: exit 0, no socket, no child process left', async () => {
      const n = uniqueSleep();
      try {
        const c = await connect(socketPath);
        const s = await c.call('session.create', {});
        await c.call('exec.run', { session_id: s.session_id, command: `sleep ${n} & nohup sleep ${n} >/dev/null 2>&1 & echo ok` });
        assert.ok(await waitFor(() => findSleeps(n).length === 2), 'background sleeps did not start');
        const kids = descendants(d.pid);
        c.close();
        const code = await d.stop('SIGTERM');
        assert.equal(code, 0);
        assert.equal(fs.existsSync(socketPath), false, 'the socket is still there');
        await assertSleepsGone([n], 'after SIGTERM: ');
        const survivors = kids.filter((k) => procAlive(k.pid) && (procCmdline(k.pid) ?? []).join(' ') === k.cmdline);
        assert.deepEqual(survivors, [], 'children of the daemon survived its SIGTERM');
      } finally {
        killSleeps([n]);
      }
    });
  });
});
