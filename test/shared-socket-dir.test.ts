/**
 * Issue 15, break 2: claw-core's clients, scripts and plugin use
 * `/tmp/trl.sock`, a socket directly in a sticky world-writable directory.
 * trl accepts that (in both modes) when it creates the socket itself, mode
 * 0600, and never follows, reuses or removes a name someone else made there:
 * the attacks of a shared /tmp — another user's symlink or file planted at the
 * socket or record name, their live socket, a directory that is not sticky or
 * not root's — are each refused, and what they point at is left untouched.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { makeStickyDir, python3 } from './helpers/claw-core-peers.js';
import { canConnect, MAIN_JS, makeTempDir, startDaemon } from './helpers/daemon.js';
import { rawCall, rawConnect } from './helpers/raw-connection.js';
import { waitFor } from './helpers/wait.js';

const OTHER = 65534;
const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];

function sticky(): string {
  const d = makeStickyDir();
  dirs.push(d);
  return d;
}

function privateDir(): string {
  const d = makeTempDir();
  dirs.push(d);
  return d;
}

/** Planting another user's files needs root (CI runs as root); elsewhere the reason is printed. */
function skipUnlessRoot(t: TestContext): boolean {
  if (isRoot) return false;
  const why = "planting another user's files in the shared directory needs root";
  console.log(`# skipping: ${why}`);
  t.skip(why);
  return true;
}

/** Start a daemon that must refuse: its exit code 1 and what it printed. */
async function refused(socketPath: string, flags: string[] = []): Promise<string> {
  const d = await startDaemon({ socketPath, noWait: true, flags, dir: privateDir() });
  const code = await d.exited;
  assert.equal(code, 1, `the daemon did not refuse (exit ${String(code)}): ${d.logs().slice(-1500)}`);
  return d.stderr();
}

/** A Unix socket left behind by a process that is gone (bound, never removed). */
function staleSocket(socketPath: string): void {
  const r = spawnSync(python3(), ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', socketPath]);
  assert.equal(r.status, 0, String(r.stderr));
}

after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('a socket directly in a sticky world-writable directory', () => {
  it('is created 0600 and ours, with a private record, serves clients, and both are removed at shutdown', async () => {
    const dir = sticky();
    const socketPath = path.join(dir, 'trl.sock');
    const d = await startDaemon({ socketPath });
    try {
      const st = fs.lstatSync(socketPath);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(st.uid, process.getuid!());
      assert.ok(await waitFor(() => fs.existsSync(`${socketPath}.daemon.json`)), 'the daemon record was written');
      const rec = fs.lstatSync(`${socketPath}.daemon.json`);
      assert.ok(rec.isFile());
      assert.equal(rec.mode & 0o777, 0o600);
      const conn = await rawConnect(socketPath);
      assert.equal((await rawCall(conn, '1', 'system.ping')).ok, true);
      conn.close();
      // A second daemon on the same path finds the live one.
      assert.match(await refused(socketPath), /already running/);
      assert.ok(fs.lstatSync(socketPath).isSocket(), 'the refused daemon left the live socket alone');
    } finally {
      await d.shutdownClean();
    }
    assert.equal(fs.existsSync(`${socketPath}.daemon.json`), false, 'the record is removed at shutdown');
  });

  it('replaces a stale socket of its own user', async () => {
    const dir = sticky();
    const socketPath = path.join(dir, 'trl.sock');
    staleSocket(socketPath);
    assert.equal(await canConnect(socketPath), false);
    const d = await startDaemon({ socketPath });
    try {
      assert.equal(await canConnect(socketPath), true);
    } finally {
      await d.shutdownClean();
    }
  });

  it('refuses a world-writable directory without the sticky bit (anyone could swap the socket)', async () => {
    const dir = sticky();
    fs.chmodSync(dir, 0o777);
    assert.match(await refused(path.join(dir, 'trl.sock')), /mode 777 .*chmod 700/);
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing was created there');
  });

  it('refuses a sticky directory that belongs to another user', async (t) => {
    if (skipUnlessRoot(t)) return;
    const dir = sticky();
    fs.chownSync(dir, OTHER, OTHER);
    assert.match(await refused(path.join(dir, 'trl.sock')), new RegExp(`owned by uid ${OTHER}, neither root nor this user`));
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it("refuses another user's symlink at the socket name and leaves its target untouched", async (t) => {
    if (skipUnlessRoot(t)) return;
    const dir = sticky();
    const target = path.join(privateDir(), 'precious');
    fs.writeFileSync(target, 'keep me\n', { mode: 0o600 });
    const socketPath = path.join(dir, 'trl.sock');
    fs.symlinkSync(target, socketPath);
    fs.lchownSync(socketPath, OTHER, OTHER);
    assert.match(await refused(socketPath), new RegExp(`${socketPath} exists and belongs to uid ${OTHER}`));
    assert.equal(fs.readFileSync(target, 'utf8'), 'keep me\n');
    assert.equal(fs.statSync(target).mode & 0o777, 0o600, 'the target was not chmod-ed');
    assert.ok(fs.lstatSync(socketPath).isSymbolicLink(), "the other user's link is not removed");
  });

  it("refuses another user's symlink or file at the record name, never writing through it", async (t) => {
    if (skipUnlessRoot(t)) return;
    for (const kind of ['symlink', 'file'] as const) {
      const dir = sticky();
      const target = path.join(privateDir(), 'precious');
      fs.writeFileSync(target, 'keep me\n');
      const socketPath = path.join(dir, 'trl.sock');
      const record = `${socketPath}.daemon.json`;
      if (kind === 'symlink') fs.symlinkSync(target, record);
      else fs.writeFileSync(record, JSON.stringify({ instance_id: 'ab', pid: 1, started_at: '', socket_path: socketPath }));
      fs.lchownSync(record, OTHER, OTHER);
      assert.match(await refused(socketPath), new RegExp(`${record} exists and belongs to uid ${OTHER}`), kind);
      assert.equal(fs.readFileSync(target, 'utf8'), 'keep me\n', kind);
      assert.equal(fs.lstatSync(record).uid, OTHER, `${kind}: the other user's record is left as it is`);
      assert.equal(fs.existsSync(socketPath), false, `${kind}: no socket is left behind`);
    }
  });

  it('never writes the record through a symlink, even one of its own user', async () => {
    const dir = sticky();
    const target = path.join(privateDir(), 'precious');
    fs.writeFileSync(target, 'keep me\n');
    const socketPath = path.join(dir, 'trl.sock');
    fs.symlinkSync(target, `${socketPath}.daemon.json`);
    const d = await startDaemon({ socketPath });
    try {
      // The daemon removes the link, then creates the file (O_EXCL): the name is briefly absent in between.
      const isFile = () => fs.lstatSync(`${socketPath}.daemon.json`, { throwIfNoEntry: false })?.isFile() === true;
      assert.ok(await waitFor(isFile), 'the link is replaced by a file');
      assert.equal(fs.readFileSync(target, 'utf8'), 'keep me\n');
    } finally {
      await d.shutdownClean();
    }
  });

  it("refuses another user's live socket at the name without connecting to it", async (t) => {
    if (skipUnlessRoot(t)) return;
    const dir = sticky();
    const socketPath = path.join(dir, 'trl.sock');
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      fs.lchownSync(socketPath, OTHER, OTHER);
      assert.match(await refused(socketPath), new RegExp(`belongs to uid ${OTHER}`));
      assert.equal(connections, 0, "trl connected to another user's socket");
      assert.equal(fs.lstatSync(socketPath).uid, OTHER);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('is closed to other users (mode 0600)', async (t) => {
    if (skipUnlessRoot(t)) return;
    const dir = sticky();
    const socketPath = path.join(dir, 'trl.sock');
    const d = await startDaemon({ socketPath });
    try {
      const r = spawnSync(
        'setpriv',
        [
          `--reuid=${OTHER}`,
          `--regid=${OTHER}`,
          '--clear-groups',
          '--',
          python3(),
          '-c',
          'import socket, sys\ntry:\n  socket.socket(socket.AF_UNIX).connect(sys.argv[1]); print("connected")\nexcept PermissionError:\n  print("refused")',
          socketPath,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.stdout.trim(), 'refused', `${r.stdout}${r.stderr}`);
    } finally {
      await d.shutdownClean();
    }
  });
});

describe('--compat claw-core without --socket-path', () => {
  it('listens on /tmp/trl.sock, as every claw-core client expects', async (t) => {
    const socketPath = '/tmp/trl.sock';
    if (fs.existsSync(socketPath)) {
      const why = `${socketPath} is in use here (another daemon, claw-core or trl): the default cannot be tried`;
      console.log(`# skipping: ${why}`);
      t.skip(why);
      return;
    }
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('TRL_')) delete env[k];
    const dir = privateDir();
    const proc = spawn(process.execPath, [MAIN_JS, 'serve', '--compat', 'claw-core', '--allow-root', '--tiers', 'host'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    proc.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    try {
      assert.ok(await waitFor(async () => fs.existsSync(socketPath) && (await canConnect(socketPath))), `no socket at ${socketPath}: ${out}`);
      assert.ok(await waitFor(() => out.includes('listening on unix:/tmp/trl.sock')), out);
      const conn = await rawConnect(socketPath);
      const created = await rawCall(conn, 'a', 'session.create', {});
      assert.equal(created.data.working_dir, '/tmp');
      conn.close();
    } finally {
      proc.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
    assert.equal(fs.existsSync(socketPath), false, 'the socket is removed at shutdown');
    assert.equal(fs.existsSync(`${socketPath}.daemon.json`), false, 'the record is removed at shutdown');
  });
});
