/**
 * `trl session create` sets every field session.create has (issue 12, item
 * 12), `trl session update` every field of session.update, and `trl session
 * info` shows the session's isolation, network and usage: through the
 * compiled CLI against a real daemon.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, startDaemon, type Daemon } from './helpers/daemon.js';
import { newSecret, runCli, type CliResult } from './helpers/secrets.js';
import { removeWorkspace, tierWorkspace } from './helpers/tiers.js';

/** `trl <args>` against the daemon at `socket` (the flag goes before any `--`). */
function cliAt(socket: string): (...args: string[]) => Promise<CliResult> {
  return (...args) => {
    const end = args.indexOf('--');
    const at = end < 0 ? args.length : end;
    return runCli([...args.slice(0, at), '--socket', socket, ...args.slice(at)]);
  };
}

function ok(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${String(r.code)}\n${r.stderr}`);
  return r.stdout;
}

/** `key  value` of the info text. */
function field(text: string, key: string): string | undefined {
  return new RegExp(`^${key} {2,}(.*)$`, 'm').exec(text)?.[1];
}

describe('trl session create flags and session info (host tier)', () => {
  let d: Daemon;
  let cli: (...args: string[]) => Promise<CliResult>;
  let dir: string;
  before(async () => {
    d = await startDaemon();
    cli = cliAt(d.socketPath);
    dir = makeTempDir('/tmp/trl-cli-create-');
  });
  after(async () => {
    await d.shutdownClean();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('limits with size units, secret keys, redaction, timeout and name reach the daemon', async () => {
    const secret = newSecret();
    const created = JSON.parse(
      ok(
        await cli(
          'session',
          'create',
          '--name',
          'flags',
          '--limit',
          'memory=64M',
          '--limit',
          'pids=50',
          '--limit',
          'nofile=256',
          '--secret-key',
          'MY_VAL',
          '-e',
          `MY_VAL=${secret}`,
          '-e',
          'OTHER=1',
          '--timeout',
          '7',
          '--json',
        ),
        'create',
      ),
    );
    assert.equal(created.name, 'flags');
    assert.equal(created.limits.memory_bytes, 64 * 1024 * 1024);
    assert.equal(created.limits.pids, 50);
    assert.equal(created.limits.nofile, 256);
    assert.deepEqual(created.secret_keys, ['MY_VAL']);
    assert.equal(created.timeout_s, 7);
    // MY_VAL does not look secret by its name: only --secret-key makes the output redacted.
    const echoed = ok(await cli('exec', '-s', created.session_id, '--', 'echo "$MY_VAL"'), 'exec');
    assert.equal(echoed, '[REDACTED]\n');

    const info = ok(await cli('session', 'info', created.session_id), 'info');
    assert.ok(!info.includes(secret), 'no env value in session info');
    assert.equal(field(info, 'tier'), 'host (not isolated: commands run as the daemon user)');
    assert.equal(field(info, 'network'), 'on');
    assert.equal(field(info, 'env keys'), 'MY_VAL OTHER');
    assert.equal(field(info, 'secret keys'), 'MY_VAL');
    assert.equal(field(info, 'redact output'), 'yes');
    assert.equal(field(info, 'timeout'), '7s');
    assert.match(field(info, 'limits') ?? '', /memory_bytes=64\.0MiB .*pids=50/);
    assert.match(field(info, 'usage') ?? '', /^memory \d+(\.\d)? (B|KiB|MiB), \d+ process(es)?, CPU \d+\.\d\d s$/);
    assert.match(field(info, 'isolation') ?? '', /.+/);
    const list = ok(await cli('session', 'ls'), 'ls');
    assert.match(list, /^ID +NAME +TIER +NET +STATE/m);
    assert.match(list, new RegExp(`^${created.session_id} +flags +host +on +idle`, 'm'));
  });

  it('--no-redact-output, --workspace, --cwd and --tier are sent; flags left out leave the daemon defaults', async () => {
    const ws = makeTempDir('/tmp/trl-cli-ws-');
    try {
      fs.mkdirSync(`${ws}/sub`);
      const s = JSON.parse(ok(await cli('session', 'create', '--tier', 'host', '--workspace', ws, '--cwd', `${ws}/sub`, '--no-redact-output', '--json'), 'create'));
      assert.equal(s.runtime, 'host');
      assert.equal(s.redact_output, false);
      assert.equal(s.workspace, ws);
      assert.equal(s.working_dir, `${ws}/sub`);
      const info = ok(await cli('session', 'info', s.session_id), 'info');
      assert.equal(field(info, 'redact output'), 'no');
      const plain = JSON.parse(ok(await cli('session', 'create', '--json'), 'create'));
      assert.equal(plain.redact_output, true);
      assert.deepEqual(plain.secret_keys, []);
    } finally {
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('--image, --network off and --runtime are sent: the host tier refuses what it cannot do, naming the fix', async () => {
    const image = await cli('session', 'create', '--image', 'busybox');
    assert.equal(image.code, 1);
    assert.match(image.stderr, /INVALID_PARAMS: .*image applies only to tiers that run images/);
    for (const off of [['--no-network'], ['--network', 'none'], ['--network', 'off']]) {
      const r = await cli('session', 'create', ...off);
      assert.equal(r.code, 1, off.join(' '));
      assert.match(r.stderr, /cannot cut the network; use an isolated runtime/, off.join(' '));
    }
    const on = JSON.parse(ok(await cli('session', 'create', '--network', '--json'), 'create --network'));
    assert.equal(on.isolation.network, true);
    const unavailable = await cli('session', 'create', '--runtime', 'docker');
    assert.equal(unavailable.code, 1);
    assert.match(unavailable.stderr, /RUNTIME_UNAVAILABLE: runtime 'docker' is unavailable/);
  });

  it('trl session update changes what session.update can, and prints the session', async () => {
    const ws = makeTempDir('/tmp/trl-cli-upd-');
    try {
      const id = ok(await cli('session', 'create', '-e', 'A=1', '-e', 'B=2'), 'create').trim();
      const updated = ok(await cli('session', 'update', id, '-e', 'C=3', '--unset-env', 'A', '--cwd', ws, '--name', 'renamed', '--timeout', '0', '--secret-key', 'C', '--no-redact-output'), 'update');
      assert.equal(field(updated, 'id'), id);
      assert.equal(field(updated, 'name'), 'renamed');
      assert.equal(field(updated, 'env keys'), 'B C');
      assert.equal(field(updated, 'secret keys'), 'C');
      assert.equal(field(updated, 'redact output'), 'no');
      assert.equal(field(updated, 'timeout'), 'none');
      assert.equal(field(updated, 'cwd'), ws);
      const again = JSON.parse(ok(await cli('session', 'update', id, '--redact-output', '--json'), 'update'));
      assert.equal(again.redact_output, true);
      assert.equal(again.name, 'renamed', 'a flag left out changes nothing');
    } finally {
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('bad flags are usage errors (status 2) that say what is accepted', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--limit', 'mem=1G'], /unknown limit 'mem': use one of memory, /],
      [['--limit', 'memory=lots'], /expected a size such as 512M/],
      [['--network', 'bridge'], /a session cannot pick its docker network/],
      [['--secret-key', 'NOT-A-NAME'], /is not a variable name/],
      [['--tier', 'host', '--runtime', 'host'], /cannot be used with option '--runtime/],
      [['--runtime', 'vm'], /Allowed choices are host, sandbox, docker/],
    ];
    for (const [args, message] of cases) {
      const r = await cli('session', 'create', ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    assert.match(ok(await cli('session', 'ls'), 'ls'), /flags/, 'no session was created by a refused command line');
  });
});

describe('trl session create --network in the sandbox tier', () => {
  let d: Daemon | null = null;
  let ws = '';
  let skip: string | false = false;
  before(async () => {
    if (spawnSync('bwrap', ['--version'], { stdio: 'ignore' }).status !== 0) {
      skip = 'bubblewrap (bwrap) is not installed: apt-get install -y bubblewrap';
      if (process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`TRL_REQUIRE_TIERS=1 but ${skip}`);
      return;
    }
    ws = tierWorkspace();
    d = await startDaemon({ flags: ['--tiers', 'host,sandbox', '--default-working-dir', ws] });
  });
  after(async () => {
    await d?.shutdownClean();
    if (ws) removeWorkspace(ws);
  });

  it('no network by default, --network gives it; session info says which', async (t) => {
    if (skip) return t.skip(skip);
    const cli = cliAt(d!.socketPath);
    const cut = ok(await cli('session', 'create', '--runtime', 'sandbox', '--workspace', ws), 'create').trim();
    const open = ok(await cli('session', 'create', '--tier', 'sandbox', '--workspace', ws, '--network'), 'create --network').trim();
    const cutInfo = ok(await cli('session', 'info', cut), 'info');
    const openInfo = ok(await cli('session', 'info', open), 'info');
    assert.equal(field(cutInfo, 'network'), 'off');
    assert.equal(field(openInfo, 'network'), 'on');
    assert.equal(field(cutInfo, 'tier'), 'sandbox (isolated)');
    assert.match(field(cutInfo, 'isolation') ?? '', /sandbox_pid=\d+/);
    // What the commands see: only loopback without the network, more with it.
    const ifaces = async (id: string) =>
      ok(await cli('exec', '-s', id, '--', 'cat /proc/net/dev'), 'exec')
        .split('\n')
        .filter((l) => /^\s*\w+:/.test(l))
        .map((l) => l.trim().split(':')[0]);
    assert.deepEqual(await ifaces(cut), ['lo']);
    assert.ok(
      (await ifaces(open)).some((i) => i !== 'lo'),
      'a session with --network sees the host interfaces',
    );
  });
});
