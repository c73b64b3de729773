/**
 * Crash recovery trusts only its own records in the shared temp directory
 * (docs/security.md, crash recovery). A daemon that starts removes what dead
 * instances left there: the empty directories listed in `trl-ghosts-<id>.json`
 * and the FIFO directories `trl-fifo-<id>-*`. A review found it took any such
 * name, whoever wrote it: another local user could plant a list and have a
 * root daemon remove any empty directory it named (`/run/sshd`), or plant a
 * FIFO directory to be walked recursively while it swapped a link in. Now
 * only records of the daemon's own user, not writable by others, count.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { startDaemon } from './helpers/daemon.js';
import { waitFor } from './helpers/wait.js';

const NOBODY = 65534;
/** An instance id whose pid (past any pid_max) is certainly dead. */
const deadInstance = () => randomBytes(8).toString('hex') + '3ffffff0';
const tmp = fs.realpathSync(os.tmpdir());
const made: string[] = [];
after(() => {
  for (const p of made) fs.rmSync(p, { recursive: true, force: true });
});

function ghostRecord(id: string, paths: string[], owner: number): string {
  const file = path.join(tmp, `trl-ghosts-${id}.json`);
  fs.writeFileSync(file, JSON.stringify(paths), { mode: 0o600 });
  fs.chownSync(file, owner, owner);
  made.push(file);
  return file;
}

function emptyDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(tmp, name));
  made.push(dir);
  return dir;
}

describe('crash recovery and the records of other users', () => {
  it('removes what its own user recorded, and nothing another user planted under the same names', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to plant files as another user');
    // ours: a dead instance's ghost list and FIFO directory, which a starting daemon removes
    const ours = deadInstance();
    const ourGhost = emptyDir('trl-test-ghost-ours-');
    const ourRecord = ghostRecord(ours, [ourGhost], 0);
    const ourFifos = emptyDir(`trl-fifo-${ours}-`);
    // another user's list naming an empty directory of ours
    const theirs = deadInstance();
    const victim = emptyDir('trl-test-ghost-victim-');
    const theirRecord = ghostRecord(theirs, [victim], NOBODY);
    // another user's FIFO directory named after our dead instance
    const theirFifos = path.join(tmp, `trl-fifo-${ours}-planted`);
    fs.mkdirSync(theirFifos);
    fs.writeFileSync(path.join(theirFifos, 'keep'), 'theirs');
    fs.chownSync(theirFifos, NOBODY, NOBODY);
    made.push(theirFifos);

    const d = await startDaemon();
    try {
      // any daemon starting on this machine reaps dead instances: once ours are gone, recovery has run
      assert.ok(await waitFor(() => !fs.existsSync(ourRecord) && !fs.existsSync(ourGhost) && !fs.existsSync(ourFifos)), 'our own dead instance was not reaped');
      assert.ok(fs.existsSync(victim), "an empty directory named in another user's ghost list was removed");
      assert.ok(fs.existsSync(theirRecord), "another user's ghost list was taken as the daemon's own");
      assert.equal(fs.readFileSync(path.join(theirFifos, 'keep'), 'utf8'), 'theirs', "another user's directory under a FIFO directory name was removed");
    } finally {
      await d.shutdownClean();
    }
  });
});
