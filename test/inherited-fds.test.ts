/**
 * Descriptors the daemon inherited never reach a command (docs/security.md,
 * src/server/inherited-fds.ts). Whatever starts the daemon may leave some
 * open — here the shell that execs it opens fd 40 on `/` and fd 41 on a
 * file (Node itself marks the lowest inherited ones close-on-exec, not
 * those) — and a directory descriptor inside a sandbox is a way out of
 * it (`/proc/self/fd/40/…` is the host's root). A review found both reaching
 * every sandboxed command; each tier's command must now see neither.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { useTierDaemon } from './helpers/fixture.js';
import type { TierName } from './helpers/tiers.js';

const DIR_FD = 40;
const FILE_FD = 41;
/** A host file the sandbox cannot otherwise see (its /tmp is private), reachable only through an inherited `/`. */
const canary = path.join(os.tmpdir(), `trl-inherited-fd-canary-${process.pid}`);
fs.writeFileSync(canary, 'host-only\n');
after(() => fs.rmSync(canary, { force: true }));

for (const tier of ['host', 'sandbox'] as TierName[]) {
  describe(`inherited descriptors: ${tier} tier`, () => {
    // bash, for descriptors above 9 (dash takes one digit); it then execs the daemon with them open
    const h = useTierDaemon(tier, { prelude: `exec bash -c 'exec ${DIR_FD}</ ${FILE_FD}>>${canary}; exec "$@"' bash "$@"` });

    it(`a command sees neither fd ${DIR_FD} (the host's /) nor fd ${FILE_FD}, which the daemon inherited`, async (t) => {
      if (h.skip(t)) return;
      // the daemon itself holds them: the test's premise
      const pid = h.daemon!.pid;
      assert.equal(fs.readlinkSync(`/proc/${pid}/fd/${DIR_FD}`), '/', 'the daemon did not inherit the directory descriptor');
      assert.equal(fs.readlinkSync(`/proc/${pid}/fd/${FILE_FD}`), canary);
      const s = await h.client!.call('session.create', {});
      const r = await h.client!.call('exec.run', {
        session_id: s.session_id,
        command: `for fd in ${DIR_FD} ${FILE_FD}; do if [ -e /proc/self/fd/$fd ]; then echo "fd $fd: $(readlink /proc/self/fd/$fd)"; fi; done; cat /proc/self/fd/${DIR_FD}${canary} 2>/dev/null; echo checked`,
      });
      assert.equal(r.exit_code, 0, r.stderr);
      assert.equal(r.stdout, 'checked\n', `the command inherited the daemon's descriptors:\n${r.stdout}`);
      await h.client!.call('session.destroy', { session_id: s.session_id });
    });
  });
}
