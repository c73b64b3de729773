/**
 * Run as root, `trl serve` refuses to start without --allow-root (issue 12,
 * item 14): `trl doctor` and the "no daemon" message say so up front
 * instead of promising a start. As an ordinary user they do not mention it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { MAIN_JS } from './helpers/daemon.js';
import { runCli } from './helpers/secrets.js';

const isRoot = process.getuid?.() === 0;
const notRoot = isRoot ? false : 'these tests run as root (as CI does): the refusal they check only happens to root';
/** An ordinary user for the other side, when we are root and can become one. */
const USER_UID = 1000;

/** `trl <args>` as uid 1000 (setpriv), with a clean TRL_* environment. */
function asUser(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRL_')));
  const r = spawnSync('setpriv', [`--reuid=${USER_UID}`, `--regid=${USER_UID}`, '--clear-groups', '--', process.execPath, MAIN_JS, ...args], { encoding: 'utf8', env, cwd: os.tmpdir() });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A socket path in a fresh directory (0755, so another user may look) where nothing listens; removed after `fn`. */
async function withNoSocket<T>(fn: (socket: string) => T | Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-nosock-'));
  fs.chmodSync(dir, 0o755);
  try {
    return await fn(path.join(dir, 'trl.sock'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('trl as root is told about --allow-root before trl serve refuses', () => {
  it('trl doctor: the tier works, but trl serve will not start without --allow-root', { skip: notRoot }, async () => {
    const text = await runCli(['doctor', '--tiers', 'host'], { env: { TRL_ALLOW_ROOT: '' } });
    assert.equal(text.code, 0, "the exit status is still the default tier's");
    assert.match(text.stdout, /the default tier 'host' works, but trl serve --runtime host will not start: you are root and --allow-root is not given/);
    assert.doesNotMatch(text.stdout, /will start\n/);
    const json = JSON.parse((await runCli(['doctor', '--tiers', 'host', '--json'], { env: { TRL_ALLOW_ROOT: '' } })).stdout);
    assert.equal(json.ok, true);
    assert.match(json.serve_refuses, /--allow-root \(TRL_ALLOW_ROOT=1\)/);

    const allowed = await runCli(['doctor', '--tiers', 'host', '--allow-root']);
    assert.match(allowed.stdout, /the default tier 'host' works: trl serve --runtime host will start\n/);
    assert.equal(JSON.parse((await runCli(['doctor', '--tiers', 'host', '--allow-root', '--json'])).stdout).serve_refuses, null);
  });

  it('no daemon: the hint to start one includes --allow-root', { skip: notRoot }, async () => {
    const r = await withNoSocket((socket) => runCli(['ping', '--socket', socket]));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no trl daemon listens on .*; start one with `trl serve --allow-root` \(or pass --socket\): as root, trl serve refuses to start without --allow-root/);
  });

  it('an ordinary user hears nothing of it', { skip: isRoot ? false : 'needs root to run the CLI as another user' }, async () => {
    const doctor = asUser(['doctor', '--tiers', 'host']);
    assert.equal(doctor.code, 0, doctor.stderr);
    assert.match(doctor.stdout, /trl serve --runtime host will start\n/);
    assert.doesNotMatch(doctor.stdout, /allow-root/);
    const ping = await withNoSocket((socket) => asUser(['ping', '--socket', socket]));
    assert.equal(ping.code, 1);
    assert.match(ping.stderr, /no trl daemon listens on .*; start one with `trl serve` \(or pass --socket\)\n$/);
  });
});
