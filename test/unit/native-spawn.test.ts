import assert from 'node:assert/strict';
import { closeSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { nativeSpawner } from '../../src/tiers/shared/native-spawn.js';
import { SpawnError } from '../../src/tiers/shared/spawn-error.js';

const found = nativeSpawner();

/** The spawner (the suite is skipped where there is none). */
function native(): NonNullable<typeof found> {
  assert.ok(found, 'no native spawner');
  return found;
}

describe('posix_spawn through koffi (tiers/shared/native-spawn.ts)', { skip: found === null ? 'no native spawner here' : false }, () => {
  it('starts the child off the event loop: the answer is a promise, the exit code and output are the child’s', async () => {
    const p = native().pipe();
    const started = native().spawn('/bin/sh', ['/bin/sh', '-c', 'echo "$X"; exit 7'], { cwd: '/tmp', env: { X: 'from env' }, stdio: ['ignore', p.write, 'ignore'] });
    assert.ok(started instanceof Promise);
    const child = await started;
    closeSync(p.write);
    assert.deepEqual(await child.exited, { code: 7, signal: null });
    assert.equal(readFileSync(p.read, 'utf8'), 'from env\n');
    closeSync(p.read);
  });

  it('rejects with a SpawnError carrying the errno code when the program cannot be started', async () => {
    await assert.rejects(native().spawn('/nonexistent/program', ['x'], { cwd: '/', env: {}, stdio: ['ignore', 'ignore', 'ignore'] }), (err: unknown) => {
      assert.ok(err instanceof SpawnError);
      assert.equal(err.code, 'ENOENT');
      return true;
    });
  });

  it('starts every child of a burst larger than the worker threads’ queue (256 calls), each with its own exit code', async () => {
    const n = 300;
    const children = await Promise.all(
      Array.from({ length: n }, (_, i) => native().spawn('/bin/sh', ['/bin/sh', '-c', `exit ${i % 200}`], { cwd: '/', env: {}, stdio: ['ignore', 'ignore', 'ignore'] })),
    );
    const statuses = await Promise.all(children.map((c) => c.exited));
    assert.deepEqual(
      statuses.map((s) => s.code),
      Array.from({ length: n }, (_, i) => i % 200),
    );
  });
});
