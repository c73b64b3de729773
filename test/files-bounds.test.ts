/**
 * Issue 13, bounds of the files API on every tier: a 100,000-file tree lists
 * 100 entries by default and 1,000 at most, with the exact total; a
 * catastrophic regular expression is stopped at the walk's time bound while
 * the daemon keeps answering system.ping (the walk runs off its event loop).
 * How long those pings take is a bench figure, not a test assertion.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from './helpers/wait.js';
import { removeWorkspace, startTierDaemon, tierWorkspace, TIER_NAMES, type TierDaemon } from './helpers/tiers.js';

const DIRS = 100;
const FILES_PER_DIR = 1000;
const FILES = DIRS * FILES_PER_DIR;
/** The directory whose files hold `x`, the one fs.grep reads. */
const GREPPED_DIR = 42;
/** Between two pings while a grep runs. */
const PING_GAP_MS = 20;

/**
 * One tree for every tier (read only here): 100 directories of 1,000 files,
 * empty but for one directory that grep reads (freeing data blocks is what
 * makes removing a big tree slow on a disk mounted with discard). The empty
 * files of a directory are hard links of its first one: listing and search
 * count names, while 100,000 inodes made this tree cost up to a minute of
 * kernel time on a loaded ext4 disk (links: a second or two). The files grep
 * reads are files of their own, as a workspace's sources are.
 */
let tree: string | null = null;
function bigTree(): string {
  if (tree) return tree;
  const ws = tierWorkspace('trl-ws-bounds-');
  // Below the workspace root, where the isolated tiers add their guards.
  fs.mkdirSync(path.join(ws, 'tree'), { mode: 0o755 });
  for (let d = 0; d < DIRS; d++) {
    const dir = path.join(ws, 'tree', `d${String(d).padStart(3, '0')}`);
    fs.mkdirSync(dir, { mode: 0o755 });
    const file = (f: number) => path.join(dir, `f${String(f).padStart(4, '0')}.txt`);
    if (d === GREPPED_DIR) for (let f = 0; f < FILES_PER_DIR; f++) fs.writeFileSync(file(f), 'x\n');
    else {
      fs.writeFileSync(file(0), '');
      for (let f = 1; f < FILES_PER_DIR; f++) fs.linkSync(file(0), file(f));
    }
  }
  tree = ws;
  return ws;
}

after(() => {
  if (tree) removeWorkspace(tree);
});

// The tiers side by side (each has daemons of its own, and the tree is only read), the tests of a tier one after the other.
describe('files API bounds', { concurrency: true }, () => {
  for (const tier of TIER_NAMES) {
    describe(`files API bounds: ${tier} tier`, { concurrency: 1 }, () => {
      let t: TierDaemon;
      let sid: string;

      before(async () => {
        // The walk's time bound must not cut the 100,000-entry listing short on a loaded machine.
        t = await startTierDaemon(tier, { flags: ['--fs-timeout-s', '300'] });
        if (!t.client) return;
        sid = ((await t.client.call('session.create', { workspace: bigTree() })) as any).session_id;
      });
      after(async () => {
        await t?.close();
      });
      const call = (method: string, params: Record<string, unknown>): Promise<any> => t.client!.call(method, { session_id: sid, ...params });

      it('a 100,000-file tree: 100 entries by default, 1,000 at most, the exact total, paging to the end', async (ctx) => {
        if (t.skip(ctx)) return;
        const first = await call('fs.list', { path: 'tree', recursive: true });
        assert.equal(first.entries.length, 100, '100 by default');
        assert.equal(first.total, FILES + DIRS, 'every file and directory counted');
        assert.equal(first.truncated, true);
        assert.equal(first.next_offset, 100);
        assert.equal(first.timed_out, false);
        const most = await call('fs.list', { path: 'tree', recursive: true, limit: 100_000 });
        assert.equal(most.entries.length, 1000, 'a larger limit is clamped to 1,000');
        assert.equal(most.total, FILES + DIRS);
        const end = await call('fs.list', { path: 'tree', recursive: true, offset: FILES + DIRS - 30, limit: 1000 });
        assert.equal(end.entries.length, 30);
        assert.equal(end.next_offset, null);
        assert.equal(end.truncated, false);
        const found = await call('fs.search', { path: 'tree', pattern: '**/f09*.txt' });
        assert.equal(found.total, DIRS * 100);
        assert.equal(found.matches.length, 100);
        const grep = await call('fs.grep', { path: `tree/d${String(GREPPED_DIR).padStart(3, '0')}`, pattern: '^x$', limit: 5000 });
        assert.equal(grep.total, FILES_PER_DIR);
        assert.equal(grep.matches.length, 1000);
      });
    });

    describe(`files API bounds, catastrophic regular expression: ${tier} tier`, { concurrency: 1 }, () => {
      let t: TierDaemon;
      let ws: string;
      let sid: string;

      before(async () => {
        t = await startTierDaemon(tier, { flags: ['--fs-timeout-s', '2'] });
        if (!t.client) return;
        ws = tierWorkspace();
        // (a+)+$ against a long run of a's that does not end the line backtracks for ages in a backtracking engine.
        fs.writeFileSync(path.join(ws, 'evil.txt'), `${'a'.repeat(40)}!\n`.repeat(50));
        sid = ((await t.client.call('session.create', { workspace: ws })) as any).session_id;
      });
      after(async () => {
        await t?.close();
        if (ws) removeWorkspace(ws);
      });

      /**
       * fs.grep of `pattern` while pings go on the same connection, one every PING_GAP_MS (paced: a flood
       * would only burn the CPU the rest of the suite runs on): how many were answered while it ran.
       */
      async function grepWhilePinging(pattern: string): Promise<{ outcome: { ok: true; r: any } | { ok: false; code: string; message: string }; answeredDuring: number }> {
        const c = t.client!;
        let settled = false;
        const grep = c.call('fs.grep', { session_id: sid, pattern }).then(
          (r: any) => ({ ok: true as const, r }),
          (e: any) => ({ ok: false as const, code: e.code as string, message: String(e.message) }),
        );
        void grep.then(() => (settled = true));
        let answeredDuring = 0;
        let slowest = 0;
        while (!settled) {
          const t0 = performance.now();
          await c.call('system.ping', {});
          slowest = Math.max(slowest, performance.now() - t0);
          if (!settled) answeredDuring++;
          // The next ping after the gap, or at once once the grep has answered (its end is not waited for by time).
          await Promise.race([grep, new Promise((resolve) => setTimeout(resolve, PING_GAP_MS))]);
        }
        console.log(`# ${tier}: ${answeredDuring} pings answered during grep ${pattern}, slowest ${slowest.toFixed(1)} ms`);
        return { outcome: await grep, answeredDuring };
      }

      it('a pattern that backtracks for ages (a linear engine can run it) answers: no match', async (ctx) => {
        if (t.skip(ctx)) return;
        const { outcome } = await grepWhilePinging('^(a+)+$');
        // Either the backtracking is cut short (no match, the answer complete) or the walk stops at its bound.
        if (outcome.ok) assert.ok(outcome.r.total === 0 || outcome.r.timed_out === true, JSON.stringify(outcome.r).slice(0, 300));
        else assert.match(`${outcome.code} ${outcome.message}`, /^INVALID_PARAMS .*time bound/);
      });

      it('a catastrophic pattern no linear engine runs (a backreference) is stopped at the time bound while system.ping keeps being answered', async (ctx) => {
        if (t.skip(ctx)) return;
        const { outcome, answeredDuring } = await grepWhilePinging('^(a+)+\\1$');
        if (outcome.ok) {
          assert.equal(outcome.r.timed_out, true, `an answer says the walk was cut at its time bound: ${JSON.stringify(outcome.r).slice(0, 300)}`);
        } else {
          assert.equal(outcome.code, 'INVALID_PARAMS');
          assert.match(outcome.message, /time bound/);
        }
        assert.ok(answeredDuring > 0, 'system.ping was answered while the grep ran');
        // The session still works afterwards: a grep that is not itself cut by the 2 s bound (a loaded machine can cut a few) finds the needle.
        fs.writeFileSync(path.join(ws, 'fine.txt'), 'needle\n');
        let last: any = null;
        const found = await waitFor(async () => {
          last = await t.client!.call('fs.grep', { session_id: sid, path: 'fine.txt', pattern: 'needle' });
          return last.timed_out !== true;
        });
        assert.ok(found, `every grep after the catastrophic one was cut at the time bound: ${JSON.stringify(last).slice(0, 300)}`);
        assert.equal(last.total, 1, JSON.stringify(last).slice(0, 300));
      });
    });
  }
});
