/**
 * Issue 15, item 6 and the stand-in binary: claw-core's OpenClaw plugin
 * manages its daemon with a script that finds an executable named claw_core
 * (in `$PLUGIN_ROOT/bin/`, `$CLAW_CORE_BINARY` or PATH), starts it as
 * `nohup "$BINARY" --socket-path "$SOCKET_PATH" &`, and stops it with
 * `kill PID; sleep 1;` then `kill -9` if it is still there. trl's stand-in
 * (`trl-claw-core`, linked as claw_core) is started and stopped by those same
 * steps: its SIGTERM ends it cleanly before the escalation, with sessions, a
 * connected client and a running command in it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { clawCorePeers, makeStickyDir, python3, skipWithoutPeers } from './helpers/claw-core-peers.js';
import { makeTempDir, REPO_ROOT } from './helpers/daemon.js';
import { assertSleepsGone, killSleeps, uniqueSleep } from './helpers/processes.js';

const STAND_IN = path.join(REPO_ROOT, 'dist', 'src', 'compat', 'claw-core-daemon.js');

/**
 * The plugin script's start and stop steps (plugin/scripts/claw_core_daemon.sh
 * of claw-core), in its own words: the pid it records is the one it kills; the
 * one-second `sleep` before `kill -9` is its escalation, the behaviour checked
 * here, not a wait of the test's.
 */
const PLUGIN_STEPS = String.raw`
set -u
SOCKET_PATH="$CLAW_CORE_SOCKET"
BINARY="$PLUGIN_ROOT/bin/claw_core"
[ -x "$BINARY" ] || { echo "no executable $BINARY"; exit 3; }
nohup "$BINARY" --socket-path "$SOCKET_PATH" >>"$LOG_FILE" 2>&1 &
echo $! >"$PID_FILE"
started=no
for i in $(seq 1 20); do
  if [ -S "$SOCKET_PATH" ]; then started=yes; break; fi
  sleep 0.5
done
[ "$started" = yes ] || { echo "Failed to start claw_core (socket not created)"; exit 1; }
echo "started $(cat "$PID_FILE")"
# What runs while the plugin restarts: a session with a finished command, and a command still running.
"$PYTHON" "$PEERS/claw_core_exec.py" --timeout 2 -- echo ping
"$PYTHON" "$PEERS/claw_core_sessions.py" create --name kept --cwd "$PLUGIN_ROOT"
"$PYTHON" "$PEERS/claw_core_exec.py" -- "echo running; sleep $SLEEP" >"$PLUGIN_ROOT/running.out" 2>&1 &
CLIENT=$!
for i in $(seq 1 400); do pgrep -x -f "sleep $SLEEP" >/dev/null && break; sleep 0.05; done
# stop(), as the plugin does it.
PID=$(cat "$PID_FILE")
kill "$PID"
sleep 1
if ps -p "$PID" >/dev/null 2>&1; then
  echo "Force killing claw_core..."
  kill -9 "$PID"
fi
rm -f "$PID_FILE"
rm -f "$SOCKET_PATH"
status=0; wait "$CLIENT" || status=$?
echo "client exit $status: $(cat "$PLUGIN_ROOT/running.out")"
`;

describe("claw-core's plugin daemon script with trl-claw-core as claw_core", () => {
  const dirs: string[] = [];
  const sleeps: number[] = [];
  after(() => {
    killSleeps(sleeps);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('starts trl, which serves the clients, and stops on SIGTERM before the script escalates to kill -9', async (t) => {
    const peers = clawCorePeers();
    if (skipWithoutPeers(t, peers)) return;
    assert.ok(fs.existsSync(STAND_IN), `${STAND_IN} is missing: run npm run build`);
    assert.ok((fs.statSync(STAND_IN).mode & 0o111) !== 0, `${STAND_IN} is not executable: npm run build makes it so`);
    const root = makeTempDir();
    const sticky = makeStickyDir();
    dirs.push(root, sticky);
    fs.mkdirSync(path.join(root, 'bin'));
    fs.symlinkSync(STAND_IN, path.join(root, 'bin', 'claw_core'));
    const socketPath = path.join(sticky, 'trl.sock');
    const sleep = uniqueSleep();
    sleeps.push(sleep);
    const log = path.join(root, 'claw_core.log');
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('TRL_')) delete env[k];
    const script = spawn('bash', ['-c', PLUGIN_STEPS], {
      cwd: root,
      env: {
        ...env,
        PLUGIN_ROOT: root,
        PEERS: peers.dir!,
        PYTHON: python3(),
        CLAW_CORE_SOCKET: socketPath,
        PID_FILE: path.join(root, 'claw_core.pid'),
        LOG_FILE: log,
        SLEEP: String(sleep),
        // The daemon's own settings, as its environment gives them (CI runs as root).
        TRL_ALLOW_ROOT: '1',
        TRL_TIERS: 'host',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    script.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    script.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    const status = await new Promise<number | null>((resolve) => script.once('close', resolve));
    const daemonLog = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    t.diagnostic(out.trim().replace(/\n/g, ' | '));
    assert.equal(status, 0, `the plugin steps failed:\n${out}\ndaemon log:\n${daemonLog.slice(-2000)}`);
    assert.match(out, /^started \d+$/m);
    assert.match(out, /^ping$/m, 'claw_core_exec.py got its answer');
    assert.match(out, /^Created session \S+ name=kept/m);
    assert.doesNotMatch(out, /Force killing/, `trl was still running 1 s after SIGTERM:\n${daemonLog.slice(-2000)}`);
    assert.match(daemonLog, /listening on unix:/);
    assert.match(daemonLog, /"msg":"stopped"/, 'trl shut down cleanly');
    // Only trl removes its record (the script removes the socket itself): it got to the end of its shutdown.
    assert.equal(fs.existsSync(`${socketPath}.daemon.json`), false);
    await assertSleepsGone([sleep], 'the command running at shutdown');
    assert.match(out, /^client exit \d+: /m, 'the client of the running command got an answer or a closed connection');
  });
});
