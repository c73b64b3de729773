/**
 * signalTree (tiers/shared/signals.ts), on real processes: a command's group
 * is signalled as a whole, so a child forked after the tree was listed gets
 * the signal too (exec.signal raced a fork: the listed pids alone missed it);
 * a process that left the group is signalled by pid; a group none of whose
 * listed processes is in it is never signalled.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { signalTree } from '../../src/tiers/shared/signals.js';
import { waitFor } from '../helpers/wait.js';

const started: ChildProcess[] = [];
after(() => {
  for (const c of started) if (c.pid) killGroup(c.pid);
});

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Pids of the processes in group `pgid` (from /proc). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of procPids()) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The numeric entries of /proc. */
function procPids(): string[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n));
}

/** A detached shell (its own group) that forks two sleepers once it has read a line. */
function startLeader(script: string): ChildProcess & { pid: number } {
  const c = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  started.push(c);
  assert.ok(c.pid);
  return c as ChildProcess & { pid: number };
}

describe('signalTree', () => {
  it('reaches children forked after the listing, through the leader’s group', async () => {
    // The listing sees the leader alone; the children come after it.
    const leader = startLeader('read go; sleep 300 & sleep 300 & wait');
    assert.ok(await waitFor(() => groupMembers(leader.pid).length === 1));
    const listed = [leader.pid];
    leader.stdin!.write('go\n');
    assert.ok(await waitFor(() => groupMembers(leader.pid).length === 3), 'the two sleepers did not start');
    assert.equal(signalTree(listed, [leader.pid], 'SIGTERM'), 1);
    assert.ok(await waitFor(() => groupMembers(leader.pid).length === 0), `left in the group: ${groupMembers(leader.pid).join(' ')}`);
  });

  it('signals by pid a listed process that made a group of its own, and each process once', async () => {
    const leader = startLeader('setsid sleep 300 & wait');
    assert.ok(await waitFor(() => groupMembers(leader.pid).length === 1));
    const loner = await findChildOf(leader.pid);
    assert.notEqual(loner, null, 'no setsid child');
    assert.equal(signalTree([leader.pid, loner!], [leader.pid], 'SIGKILL'), 2);
    assert.ok(await waitFor(() => !alive(loner!) && groupMembers(leader.pid).length === 0));
  });

  it('never signals a group none of the listed processes is in', async () => {
    const bystander = startLeader('exec sleep 300');
    assert.ok(await waitFor(() => groupMembers(bystander.pid).includes(bystander.pid)), `group ${bystander.pid}: ${groupMembers(bystander.pid).join(' ')}`);
    // Its group number is given, but the listing (the tree being signalled) holds nothing of it.
    assert.equal(signalTree([], [bystander.pid], 'SIGKILL'), 0);
    assert.ok(alive(bystander.pid), 'a group outside the listed tree was signalled');
  });
});

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function findChildOf(ppid: number): Promise<number | null> {
  let found: number | null = null;
  await waitFor(() => {
    for (const name of procPids()) {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(f[1]) === ppid && readFileSync(`/proc/${name}/cmdline`, 'latin1').startsWith('sleep')) {
          found = Number(name);
          return true;
        }
      } catch {
        /* gone */
      }
    }
    return false;
  });
  return found;
}

describe('signalTree with a process to spare', () => {
  it('signals the group one process at a time when a spared launcher is in it', async () => {
    // The leader stands for the sandbox's entry: in the command's group, never signalled (it outlives its child).
    const leader = startLeader('sleep 300 & wait; read x');
    assert.ok(await waitFor(() => groupMembers(leader.pid).length === 2));
    const child = groupMembers(leader.pid).find((p) => p !== leader.pid)!;
    assert.equal(signalTree([child], [leader.pid], 'SIGKILL', new Set([leader.pid])), 1);
    assert.ok(await waitFor(() => !alive(child)));
    assert.ok(alive(leader.pid), 'the spared launcher was signalled');
  });
});
