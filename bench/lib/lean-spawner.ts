import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { SpawnSpec } from './baseline.js';
import type { Sampler } from './interleave.js';

export interface LeanSpawner {
  /** A sampler that spawns `spec` from the lean process and returns how long it took there, ms. */
  sampler(spec: SpawnSpec): Sampler;
  /** `concurrency` spawns of `spec` kept going for `ms` in the lean process: how many closed, and the block's length there. */
  block(spec: SpawnSpec, concurrency: number, ms: number): Promise<{ ops: number; ms: number }>;
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./lean-spawner-child.js', import.meta.url));

/**
 * Baselines that spawn a program, spawned from a small Node process of their
 * own and timed there. Node's spawn forks the whole spawner (libuv uses
 * fork), and a fork costs more the larger the process: the bench's own
 * process holds 65–87 MB at the round trips and 155–179 MB by the sandbox
 * rows, and a bare `nsenter` spawned from it took 6.8–8.5 ms there, against
 * 2.5–2.8 ms from a small process. That made trl's ratios look better than
 * they were. The messages to and from the child are not in the figures.
 */
export async function startLeanSpawner(): Promise<LeanSpawner> {
  const child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit');
  const [first] = (await Promise.race([once(child, 'message'), exited.then(([code, signal]) => [`exit ${String(code)} ${String(signal)}`])])) as unknown[];
  if (first !== 'ready') throw new Error(`the lean spawner did not start (${String(first)})`);
  // One request at a time: the child answers each before the next is sent.
  const ask = async <T>(request: object): Promise<T> => {
    const answer = once(child, 'message') as Promise<[T & { error?: string }]>;
    child.send(request);
    const [m] = await Promise.race([answer, exited.then(([code, signal]) => Promise.reject(new Error(`the lean spawner exited (${String(code)}, ${String(signal)})`)))]);
    if (m.error !== undefined) throw new Error(m.error);
    return m;
  };
  return {
    sampler: (spec) => async () => (await ask<{ ms: number }>({ spec })).ms,
    block: (spec, concurrency, ms) => ask<{ ops: number; ms: number }>({ spec, concurrency, ms }),
    async stop() {
      if (child.connected) child.send('stop');
      await exited;
    },
  };
}
