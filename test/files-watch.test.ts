/**
 * fs.watch through the SDK against a real daemon (host tier): create, write,
 * rename and remove under a watched tree arrive as `change` events with the
 * files' paths (absolute, as every fs.* answer gives them); fs.unwatch ends the stream; a directory
 * outside the workspace cannot be watched.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode } from './helpers/client.js';
import { makeTempDir } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { waitFor } from './helpers/wait.js';

interface Change {
  kind: string;
  path: string;
}

describe('fs.watch (host tier)', () => {
  const { c } = useDaemon();
  let work: string;
  let sid: string;
  before(async () => {
    work = makeTempDir('/tmp/trl-watch-');
    fs.mkdirSync(path.join(work, 'sub'));
    sid = (await c.call('session.create', { working_dir: work })).session_id;
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('reports create, write, rename and remove below the directory, then ends at fs.unwatch', async () => {
    const w = await c.watch({ session_id: sid, recursive: true });
    const seen: Change[] = [];
    let ended = false;
    const reader = (async () => {
      for await (const ev of w.events) {
        const e = ev as unknown as { event: string; kind?: string; path?: string };
        if (e.event === 'change') seen.push({ kind: String(e.kind), path: String(e.path) });
        if (e.event === 'exit') ended = true;
      }
      ended = true;
    })().catch(() => {
      ended = true; // the fixture's client closes with the suite
    });
    const has = (kind: string, p: string) => seen.some((e) => e.kind === kind && e.path === path.join(work, p));

    // Each step waits for its event: a watcher may coalesce changes that come too close together.
    fs.writeFileSync(path.join(work, 'sub', 'a.txt'), 'one');
    assert.ok(await waitFor(() => has('create', 'sub/a.txt') || has('write', 'sub/a.txt')), `no event for a new file: ${JSON.stringify(seen)}`);
    fs.appendFileSync(path.join(work, 'sub', 'a.txt'), 'two');
    assert.ok(await waitFor(() => has('write', 'sub/a.txt')), `no write event: ${JSON.stringify(seen)}`);
    fs.renameSync(path.join(work, 'sub', 'a.txt'), path.join(work, 'sub', 'b.txt'));
    assert.ok(await waitFor(() => has('rename', 'sub/b.txt') || has('create', 'sub/b.txt')), `no event for the renamed file: ${JSON.stringify(seen)}`);
    fs.rmSync(path.join(work, 'sub', 'b.txt'));
    assert.ok(await waitFor(() => has('remove', 'sub/b.txt')), `no remove event: ${JSON.stringify(seen)}`);
    assert.ok(
      seen.every((e) => e.path.startsWith(work + '/')),
      `an event names a path outside the watched tree: ${JSON.stringify(seen)}`,
    );

    const stopped = await c.call('fs.unwatch', { stream_id: w.stream_id });
    assert.equal(stopped.stopped, true);
    assert.ok(await waitFor(() => ended), 'the event stream did not end after fs.unwatch');
    await reader;
  });

  it('a directory outside the workspace is refused', async () => {
    await expectCode(c, 'fs.watch', { session_id: sid, path: '/etc' }, 'PATH_OUTSIDE_WORKSPACE');
  });
});
