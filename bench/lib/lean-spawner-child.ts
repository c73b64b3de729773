/**
 * The lean spawner's own process (see lean-spawner.ts): spawns what its
 * parent asks and times it here. It loads nothing but child_process, so its
 * heap and page tables stay those of a small Node process.
 *
 * Messages from the parent, one at a time: `{ spec }` to time one spawn,
 * `{ spec, concurrency, ms }` to keep `concurrency` spawns going for `ms`
 * and count them, 'stop'. To the parent: 'ready', then one `{ ms }`,
 * `{ ops, ms }` or `{ error }` per message.
 */
import { spawnBaseline, type SpawnSpec } from './baseline.js';

if (!process.send) throw new Error('usage: fork(lean-spawner-child.js) with an IPC channel');
const send = process.send.bind(process);

/** `concurrency` loops spawning until the deadline; done when the last spawn in flight has closed. */
async function block(spec: SpawnSpec, concurrency: number, ms: number): Promise<{ ops: number; ms: number }> {
  const start = performance.now();
  let ops = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < start + ms) {
        await spawnBaseline(spec);
        ops++;
      }
    }),
  );
  return { ops, ms: performance.now() - start };
}

process.on('message', (m: unknown) => {
  if (m === 'stop') {
    process.disconnect();
    return;
  }
  const { spec, concurrency, ms } = m as { spec: SpawnSpec; concurrency?: number; ms?: number };
  const start = performance.now();
  const work = concurrency !== undefined && ms !== undefined ? block(spec, concurrency, ms) : spawnBaseline(spec).then(() => ({ ms: performance.now() - start }));
  work.then(
    (r) => send(r),
    (err: unknown) => send({ error: err instanceof Error ? err.message : String(err) }),
  );
});
send('ready');
