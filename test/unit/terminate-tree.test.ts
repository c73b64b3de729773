/**
 * terminateTree (tiers/shared/signals.ts) and the /proc scan it is fed
 * (tiers/shared/process-table.ts), on real processes. A process caught by a
 * scan between two programs (in execve, after its old memory is gone and
 * before the new program's environment is written) reads as an empty
 * environment, so its tag is not there for that moment: the scan says so
 * (unsettled), and the kill does not take a scan that found nothing then for
 * the tree being gone. Seen in the suite: the /proc-scan fallback's kill of an
 * ephemeral session found its SIGTERM-ignoring `setsid sleep` in neither of
 * its first two scans (both during the sleep's exec), stopped, and the sleep
 * lived on.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { scanProcesses, type TreeScan } from '../../src/tiers/shared/process-table.js';
import { terminateTree } from '../../src/tiers/shared/signals.js';
import { waitFor } from '../helpers/wait.js';

const started: ChildProcess[] = [];
after(() => {
  for (const c of started) c.kill('SIGKILL');
});

function start(command: string, env: NodeJS.ProcessEnv = process.env): ChildProcess & { pid: number } {
  const c = spawn('/bin/sh', ['-c', command], { stdio: 'ignore', env });
  started.push(c);
  assert.ok(c.pid);
  return c as ChildProcess & { pid: number };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  const me = scanProcesses().find((p) => p.pid === pid);
  return me !== undefined;
}

describe('terminateTree', () => {
  it('does not take a scan that could not judge a process for the tree gone', async () => {
    // Ignores SIGTERM, as the ephemeral command's child did: only the SIGKILL rounds end it.
    const stubborn = start("trap '' TERM; exec sleep 300");
    assert.ok(await waitFor(() => alive(stubborn.pid)));
    // The first scans catch it between two programs: nothing found, but one process unjudged.
    let calls = 0;
    const find = (): TreeScan => (++calls <= 3 ? { pids: [], unsettled: true } : { pids: alive(stubborn.pid) ? [stubborn.pid] : [], unsettled: false });
    const signalled = await terminateTree(find, 200);
    assert.equal(signalled, 1, `signalled ${signalled} processes after ${calls} scans`);
    assert.ok(await waitFor(() => !alive(stubborn.pid)), 'the SIGTERM-ignoring process outlived the kill');
  });

  it('ends at once when a scan finds nothing and judged every process', async () => {
    let calls = 0;
    const signalled = await terminateTree(() => (calls++, { pids: [], unsettled: false }), 5000);
    assert.equal(signalled, 0);
    // One SIGTERM round and one SIGKILL round, no waiting through the grace.
    assert.equal(calls, 2);
  });
});

describe('scanProcesses', () => {
  it('judges a process that runs with an empty environment: no tag, and settled (only a process between programs has no command line either)', async () => {
    const bare = start('exec sleep 300', {});
    // once the shell has become the sleep (caught during that exec, it would rightly be unsettled)
    assert.ok(await waitFor(() => commandLine(bare.pid).startsWith('sleep')));
    const entry = scanProcesses().find((p) => p.pid === bare.pid);
    assert.ok(entry, 'the sleep was not listed');
    assert.equal(entry.tag, null);
    assert.equal(entry.unsettled, false);
  });

  it("reads a process's tag from its environment", async () => {
    const tagged = start('exec sleep 300', { PATH: process.env.PATH, __TRL_TAG: 'unit-test-tag-1' });
    assert.ok(await waitFor(() => scanProcesses().find((p) => p.pid === tagged.pid)?.tag === 'unit-test-tag-1'));
  });

  it('never counts a kernel thread as unsettled (its environment and command line are empty for good)', () => {
    const kernel = scanProcesses().filter((p) => p.ppid === 2 || p.pid === 2);
    // In a pid namespace of its own (a container) the kernel's threads are not listed: nothing to check there.
    for (const k of kernel) assert.equal(k.unsettled, false, `kernel thread ${k.pid} counted as between programs`);
  });
});
