/**
 * Issue 13, the race harness in small (test/helpers/fs-race.ts): a command
 * swaps a directory and a symlink to / in a tight loop while fs.read,
 * fs.write, fs.edit and fs.list run under it, on every tier; no call may
 * reach outside the workspace. `npm run race` runs 1,000 attempts per
 * method per tier (a CI step of its own).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formatRace, runFsRace } from './helpers/fs-race.js';
import { removeWorkspace, startTierDaemon, tierWorkspace, TIER_NAMES, type TierDaemon } from './helpers/tiers.js';

const ATTEMPTS = 100;

// The tiers side by side (each has a daemon and directories of its own), the tests of a tier one after the other.
describe('files jail race on every tier', { concurrency: true }, () => {
  for (const tier of TIER_NAMES) {
    describe(`files jail race: ${tier} tier`, { concurrency: 1 }, () => {
      let t: TierDaemon;
      let ws: string;
      let sid: string;

      before(async () => {
        t = await startTierDaemon(tier);
        if (!t.client) return;
        ws = tierWorkspace();
        sid = ((await t.client.call('session.create', { workspace: ws, working_dir: ws })) as any).session_id;
      });
      after(async () => {
        await t?.close();
        if (ws) removeWorkspace(ws);
      });

      it(`0 escapes in ${ATTEMPTS} attempts per method while r/d swaps between a directory and a link to /`, async (ctx) => {
        if (t.skip(ctx)) return;
        const reports = await runFsRace(t.client!, sid, ATTEMPTS);
        console.log(formatRace(tier, reports).replace(/^/gm, '# '));
        assert.deepEqual(
          reports.map((r) => r.method),
          ['fs.read', 'fs.write', 'fs.edit', 'fs.list'],
        );
        for (const r of reports) {
          assert.equal(r.inside + Object.values(r.refused).reduce((a, b) => a + b, 0) + r.escapes >= r.attempts, true, `${r.method}: every attempt answered`);
          assert.equal(r.escapes, 0, `${r.method} escaped: ${r.examples.join('; ')}`);
          assert.deepEqual(r.unexpected, [], `${r.method}: refused only with the jail's codes`);
        }
      });
    });
  }
});
