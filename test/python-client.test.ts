/**
 * PROTOCOL §1–2: a small existing client — a Python script that writes one
 * NDJSON line and reads one line per call, with only `socket` and `json` —
 * keeps working unchanged.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { type Daemon, makeTempDir, startDaemon } from './helpers/daemon.js';
import { DEADLINE_MS } from './helpers/wait.js';

const execFileP = promisify(execFile);

/** The classic ten-line client, then a script that drives a whole session and prints every response. */
const CLIENT = String.raw`
import socket, json, sys

def call(method, params=None, rid=1):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    s.sendall((json.dumps({"id": rid, "method": method, "params": params or {}}) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk: break
        buf += chunk
    s.close()
    return json.loads(buf)

SOCK, WORK, NAME = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
out["ping"] = call("system.ping")
out["create"] = call("session.create", {"shell": "/bin/sh", "env": {"PY_SESSION_VAR": "from-session"},
                                        "working_dir": WORK, "name": NAME, "timeout_s": 30}, rid="create-1")
sid = out["create"]["data"]["session_id"]
out["run"] = call("exec.run", {"session_id": sid, "command": "echo \"$PY_SESSION_VAR $PY_CMD_VAR\"; cat; pwd; cd sub",
                               "timeout_s": 10, "stdin": "from-stdin\n", "env": {"PY_CMD_VAR": "from-command"}}, rid=2)
out["run2"] = call("exec.run", {"session_id": sid, "command": "pwd; echo \"${'$'}{PY_CMD_VAR-unset}\""}, rid=3)
out["list"] = call("session.list", rid=4)
out["info"] = call("session.info", {"session_id": sid}, rid=5)
out["destroy"] = call("session.destroy", {"session_id": sid, "force": True}, rid=6)
out["info_after"] = call("session.info", {"session_id": sid}, rid=7)
print(json.dumps(out))
`;

/** The same, but the client half-closes its side after writing (as `nc -U` or `socat` do). */
const HALF_CLOSE = String.raw`
import socket, json, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall((json.dumps({"id": "hc", "method": "exec.run", "params": {"command": "sleep 0.2; echo half-closed"}}) + "\n").encode())
s.shutdown(socket.SHUT_WR)
buf = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    buf += chunk
print(buf.decode().strip())
`;

/** Half-closing after an exec.stream request: every event still arrives, then the daemon closes. */
const HALF_CLOSE_STREAM = String.raw`
import socket, json, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall((json.dumps({"id": "hs", "method": "exec.stream", "params": {"command": "echo one; sleep 0.3; echo two"}}) + "\n").encode())
s.shutdown(socket.SHUT_WR)
buf = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    buf += chunk
print(json.dumps([json.loads(l) for l in buf.decode().splitlines() if l]))
`;

describe('a ten-line Python client', () => {
  let d: Daemon;
  let work: string;
  let scripts: string;

  before(async () => {
    d = await startDaemon();
    work = fs.realpathSync(makeTempDir('/tmp/trl-py-'));
    fs.mkdirSync(path.join(work, 'sub'));
    scripts = makeTempDir('/tmp/trl-pyscripts-');
    fs.writeFileSync(path.join(scripts, 'client.py'), CLIENT);
    fs.writeFileSync(path.join(scripts, 'half_close.py'), HALF_CLOSE);
    fs.writeFileSync(path.join(scripts, 'half_close_stream.py'), HALF_CLOSE_STREAM);
  });
  after(async () => {
    await d?.shutdownClean();
    for (const p of [work, scripts]) if (p) fs.rmSync(p, { recursive: true, force: true });
  });

  /** Runs a script to its end: the test's deadline bounds it, not the script's speed (a loaded machine starts python slowly). */
  async function python(script: string, args: string[]): Promise<string> {
    try {
      return (await execFileP('python3', [path.join(scripts, script), ...args], { encoding: 'utf8', timeout: DEADLINE_MS })).stdout;
    } catch (e) {
      const f = e as { message: string; stdout?: string; stderr?: string };
      assert.fail(`python3 ${script} failed (${f.message}):\n${f.stderr ?? ''}\n${f.stdout ?? ''}`);
    }
  }

  it('pings, creates a session, runs a command, lists, inspects and destroys it', async () => {
    const name = `py-${process.pid}`;
    const out = JSON.parse(await python('client.py', [d.socketPath, work, name])) as Record<string, any>;

    assert.equal(out.ping.id, 1);
    assert.equal(out.ping.ok, true);
    assert.equal(out.ping.data.version, PROTOCOL_VERSION);
    assert.equal(typeof out.ping.data.uptime_s, 'number');

    assert.equal(out.create.id, 'create-1');
    assert.equal(out.create.ok, true, JSON.stringify(out.create));
    const s = out.create.data;
    assert.equal(s.shell, '/bin/sh');
    assert.equal(s.working_dir, work);
    assert.equal(s.name, name);
    assert.equal(s.timeout_s, 30);
    assert.deepEqual(s.env_keys, ['PY_SESSION_VAR']);
    assert.equal(s.state, 'idle');
    assert.match(s.session_id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);

    assert.equal(out.run.id, 2);
    assert.equal(out.run.ok, true, JSON.stringify(out.run));
    assert.equal(out.run.data.stdout, `from-session from-command\nfrom-stdin\n${work}\n`);
    assert.equal(out.run.data.exit_code, 0);
    assert.equal(out.run.data.timed_out, false);
    assert.equal(out.run.data.working_dir, path.join(work, 'sub'));

    assert.equal(out.run2.data.stdout, `${path.join(work, 'sub')}\nunset\n`);

    assert.equal(out.list.ok, true);
    const listed = (out.list.data.sessions as Array<Record<string, unknown>>).find((x) => x['session_id'] === s.session_id);
    assert.ok(listed, 'session.list does not show the session');
    assert.equal(listed['name'], name);

    assert.equal(out.info.ok, true);
    assert.equal(out.info.data.session_id, s.session_id);
    assert.equal(out.info.data.working_dir, path.join(work, 'sub'));
    assert.equal(out.info.data.command_count, 2);

    assert.equal(out.destroy.id, 6);
    assert.equal(out.destroy.ok, true, JSON.stringify(out.destroy));
    assert.deepEqual(Object.keys(out.destroy.data).sort(), ['killed_processes', 'session_id', 'state']);
    assert.equal(out.destroy.data.session_id, s.session_id);
    assert.equal(out.destroy.data.state, 'terminated');
    assert.equal(typeof out.destroy.data.killed_processes, 'number');

    assert.equal(out.info_after.id, 7);
    assert.equal(out.info_after.ok, false);
    assert.equal(out.info_after.error.code, 'SESSION_NOT_FOUND');
  });

  it('a client that half-closes after an exec.stream request still gets every event', async () => {
    const lines = JSON.parse(await python('half_close_stream.py', [d.socketPath])) as Array<Record<string, any>>;
    assert.equal(lines[0]!.id, 'hs');
    assert.equal(lines[0]!.ok, true, JSON.stringify(lines[0]));
    const out = lines
      .filter((l) => l.event === 'stdout')
      .map((l) => l.data)
      .join('');
    assert.equal(out, 'one\ntwo\n');
    assert.equal(lines[lines.length - 1]!.event, 'exit');
  });

  it('a client that half-closes after writing its request still gets the answer', async () => {
    const line = await python('half_close.py', [d.socketPath]);
    const r = JSON.parse(line) as Record<string, any>;
    assert.equal(r.id, 'hc');
    assert.equal(r.ok, true, line);
    assert.equal(r.data.stdout, 'half-closed\n');
  });
});
