/**
 * A files helper's time bound counts from the helper's readiness, not from
 * its spawn: on a starved machine a new helper (a Node process) can take
 * seconds to start, and that must not be reported as a regular expression
 * stuck on one line. The starvation is made real: the helper is stopped
 * (SIGSTOP) as soon as it is spawned, for longer than the request's bound.
 * A helper that never gets ready fails at its start deadline instead.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { it } from 'node:test';
import { O_PATH } from '../../src/tiers/shared/files/fd-jail.js';
import { FilesHelper, HelperTimeout } from '../../src/tiers/shared/files/helper-client.js';
import { procAlive } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const BOUND_MS = 1000;
/** How long the helper is kept from running: past its bound, as a starved machine would. */
const STOPPED_MS = 3 * BOUND_MS;

function childOf(helper: FilesHelper): { pid: number } {
  const child = (helper as unknown as { child: { pid?: number } | null }).child;
  assert.ok(child?.pid, 'the helper was spawned');
  return { pid: child.pid };
}

it('a helper that starts slowly is not timed out: the bound starts once it is ready', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-helper-start-'));
  fs.writeFileSync(path.join(dir, 'f.txt'), 'x\n');
  const rootFd = fs.openSync(dir, O_PATH);
  const helper = new FilesHelper({ rootFd, workspacePaths: [dir], runAs: null });
  try {
    const answer = helper.request('stat', { path: ['f.txt'], follow: false }, undefined, BOUND_MS);
    const { pid } = childOf(helper);
    process.kill(pid, 'SIGSTOP');
    await delay(STOPPED_MS);
    process.kill(pid, 'SIGCONT');
    const f = await answer;
    assert.equal(f.header.ok, true);
    assert.equal((f.header.data as { type: string }).type, 'file');

    // Once ready, the bound holds: a helper kept from answering past it is stopped, with its reason.
    // It is stopped before the request goes out, so it cannot answer first.
    process.kill(childOf(helper).pid, 'SIGSTOP');
    const second = helper.request('stat', { path: ['f.txt'], follow: false }, undefined, BOUND_MS);
    await assert.rejects(second, (err: unknown) => err instanceof HelperTimeout);
  } finally {
    helper.close();
    fs.closeSync(rootFd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('a helper that never says it is ready fails its requests at the start deadline', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-helper-start-'));
  const rootFd = fs.openSync(dir, O_PATH);
  const helper = new FilesHelper({ rootFd, workspacePaths: [dir], runAs: null, startDeadlineMs: BOUND_MS });
  try {
    const answer = helper.request('stat', { path: ['.'], follow: false });
    const { pid } = childOf(helper);
    process.kill(pid, 'SIGSTOP');
    await assert.rejects(answer, /the files helper did not start within 1 s/);
    assert.ok(await waitFor(() => !procAlive(pid)), 'the helper that did not start is killed');
  } finally {
    helper.close();
    fs.closeSync(rootFd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
