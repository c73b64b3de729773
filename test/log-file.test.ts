/**
 * `--log-file`: a file the daemon cannot open stops `trl serve` and `trl rpc`
 * before anything starts, with the reason and the fix on stderr and status 1
 * (it used to be an unhandled error that printed a page of the bundle's
 * minified source); one it can open is made in a new directory, or made
 * 0600 if it was there, and takes the log.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { NODE_FLAGS } from '../src/node-flags.js';
import { cleanEnv, MAIN_JS, makeTempDir, startDaemon } from './helpers/daemon.js';
import { DEADLINE_MS, waitFor } from './helpers/wait.js';

it('a log file that cannot be opened: serve and rpc say why and how to fix it, exit 1, and leave no socket', () => {
  const dir = makeTempDir();
  const notADir = path.join(dir, 'plain-file');
  fs.writeFileSync(notADir, '');
  const logFile = path.join(notADir, 'trl.log');
  const socketPath = path.join(dir, 'trl.sock');
  for (const verb of ['serve', 'rpc']) {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, MAIN_JS, verb, '--socket-path', socketPath, '--allow-root', '--tiers', 'host', '--log-file', logFile], {
      env: cleanEnv({}),
      input: '',
      encoding: 'utf8',
      timeout: DEADLINE_MS,
    });
    assert.equal(r.status, 1, `${verb}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`^trl: cannot open the log file ${logFile} \\(E[A-Z]+[^)]*\\): give --log-file \\(log_file\\) a file the daemon's user can create or append to, or leave it out to log on stderr\\n$`),
      verb,
    );
    assert.equal(fs.existsSync(socketPath), false, `${verb} left a socket`);
  }
});

it('a log file in a directory not there yet is made, 0600, and one that was there is made 0600 too', async () => {
  const dir = makeTempDir();
  for (const existing of [false, true]) {
    const logFile = path.join(dir, existing ? 'old' : 'new/sub', 'trl.log');
    if (existing) {
      fs.mkdirSync(path.dirname(logFile));
      fs.writeFileSync(logFile, 'before\n', { mode: 0o644 });
    }
    const d = await startDaemon({ flags: ['--log-file', logFile] });
    try {
      assert.ok(await waitFor(() => fs.readFileSync(logFile, 'utf8').includes('"msg":"trl listening"')), `no log in ${logFile}; stderr: ${d.stderr()}`);
      assert.equal(fs.statSync(logFile).mode & 0o777, 0o600);
      if (existing) assert.ok(fs.readFileSync(logFile, 'utf8').startsWith('before\n'), 'appended to, not replaced');
    } finally {
      await d.shutdownClean();
    }
  }
});
