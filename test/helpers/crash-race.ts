/**
 * Crash tests share the machine with every other test file, and any trl
 * daemon that starts reaps what a dead daemon left, whatever its socket
 * (docs/security.md, crash recovery). Between a test's SIGKILL of its victim
 * and its check that the victim's orphans outlived it, a daemon another test
 * starts may already have reaped them: correct behaviour, but the attempt then
 * proves nothing (had the orphans died with their daemon, nothing would be
 * left to reap). Such an attempt is inconclusive, not failed: it is run again,
 * and only a scenario that stays inconclusive fails. A reaper takes all of an
 * instance's processes, so some orphans gone and others staying is no race:
 * that fails at once (orphansAfterCrash). Once the orphans are seen
 * alive, what follows is asserted: they must be gone once the next daemon has
 * started (it reaps them, or another daemon starting at the same time does;
 * both run the same reaping).
 */
import assert from 'node:assert/strict';
import { procAlive } from './processes.js';
import { waitFor } from './wait.js';

/** The outcome of one attempt: the orphans outlived their daemon and were reaped, or they were gone before that could be seen. */
export type CrashAttempt = 'decisive' | 'raced';

/** Runs `attempt` until it is decisive; fails after `tries` inconclusive attempts, saying why. */
export async function untilDecisive(what: string, attempt: (n: number) => Promise<CrashAttempt>, tries = 3): Promise<void> {
  for (let n = 1; n <= tries; n++) {
    if ((await attempt(n)) === 'decisive') return;
    console.log(`# ${what}: attempt ${n} was inconclusive (the orphans were gone right after the SIGKILL: reaped by another test's daemon, or they died with theirs)`);
  }
  assert.fail(
    `${what}: ${tries} attempts in a row, the orphans were gone right after their daemon's SIGKILL: they die with it, and a crash would leave nothing to reap (or the machine's other daemons reap that fast)`,
  );
}

/**
 * Right after a daemon's SIGKILL: `'alive'` when every orphan (pid) outlived it; `'reaped'` when they are all gone
 * (a reaper takes all of a dead instance's processes at once: where some are gone, the rest are waited for). Orphans
 * that stay while others died were not reaped: they die one by one with their daemon, and that fails here.
 */
export async function orphansAfterCrash(pids: readonly number[]): Promise<'alive' | 'reaped'> {
  const gone = pids.filter((p) => !procAlive(p));
  if (gone.length === 0) return 'alive';
  if (await waitFor(() => pids.every((p) => !procAlive(p)))) return 'reaped';
  const left = pids.filter(procAlive);
  return assert.fail(`orphans ${gone.join(', ')} died with their daemon while ${left.join(', ')} outlived it: not a reaper's work`);
}
