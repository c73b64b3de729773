/** One side of a comparison: runs one timed sample and returns its duration in ms. */
export type Sampler = () => Promise<number>;

/**
 * Collect `n` samples from each side in alternating blocks (A B B A A B …), so
 * that slow phases of a noisy machine hit both sides alike.
 */
export async function interleavedSamples(n: number, blockSize: number, a: Sampler, b: Sampler): Promise<{ a: number[]; b: number[] }> {
  const out: { a: number[]; b: number[] } = { a: [], b: [] };
  let block = 0;
  while (out.a.length < n || out.b.length < n) {
    // Alternate which side goes first in each pair of blocks.
    const order: Array<'a' | 'b'> = block % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
    for (const side of order) {
      const sampler = side === 'a' ? a : b;
      const samples = out[side];
      const target = Math.min(n, samples.length + blockSize);
      while (samples.length < target) samples.push(await sampler());
    }
    block++;
  }
  return out;
}

/** Time one async call in milliseconds. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/**
 * A round-trip comparison: `warmup` calls of each side, then `n` timed samples
 * of each in alternating blocks; the durations in ms, per side.
 */
export async function compareRoundTrips(
  opts: { n: number; warmup: number; blockSize: number },
  trl: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
): Promise<{ trl: number[]; baseline: number[] }> {
  return compareSamplers(
    opts,
    () => timed(trl),
    () => timed(baseline),
  );
}

/** compareRoundTrips of two samplers, each timing its own sample (one timed in another process: lean-spawner.ts). */
export async function compareSamplers(opts: { n: number; warmup: number; blockSize: number }, trl: Sampler, baseline: Sampler): Promise<{ trl: number[]; baseline: number[] }> {
  for (let i = 0; i < opts.warmup; i++) {
    await trl();
    await baseline();
  }
  const s = await interleavedSamples(opts.n, opts.blockSize, trl, baseline);
  return { trl: s.a, baseline: s.b };
}

/**
 * Like compareSamplers for any number of sides: `warmup` samples of each,
 * then `n` samples of each in blocks that take turns (the order rotates from
 * one round to the next); the durations in ms, per side.
 */
export async function compareManySamplers<K extends string>(opts: { n: number; warmup: number; blockSize: number }, sides: Record<K, Sampler>): Promise<Record<K, number[]>> {
  const keys = Object.keys(sides) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < opts.warmup; i++) for (const k of keys) await sides[k]();
  for (let round = 0; keys.some((k) => out[k].length < opts.n); round++) {
    const order = keys.map((_, i) => keys[(i + round) % keys.length]!);
    if (round % 2 === 1) order.reverse();
    for (const k of order) {
      const target = Math.min(opts.n, out[k].length + opts.blockSize);
      while (out[k].length < target) out[k].push(await sides[k]());
    }
  }
  return out;
}
