/**
 * One daemon for a suite: started before its first test, stopped cleanly
 * (exit 0, socket removed) after its last, with a connected SDK client.
 * Tests that need a daemon of their own (a crash, a refused start, settings
 * of their own) start one with startDaemon instead.
 *
 *   const { d, c } = useDaemon({ flags: ['--kill-grace-s', '1'] });
 *
 * `d` and `c` stand for the daemon and the client from the suite's `before`
 * hook on (they forward to them), so tests use them like plain values.
 */
import { after, before } from 'node:test';
import { connect, type TrlClient } from './client.js';
import { startDaemon, type Daemon, type StartOptions } from './daemon.js';
import { startHttpDaemon, type HttpDaemon, type HttpStartOptions } from './http.js';
import { startTierDaemon, type TierDaemon, type TierName, type TierOptions } from './tiers.js';

export interface DaemonFixture {
  readonly d: Daemon;
  readonly c: TrlClient;
}

/** An object that forwards every property to what `get` returns once it is there (methods bound to it). */
export function later<T extends object>(get: () => T | undefined, what: string): T {
  const target = (): T => {
    const t = get();
    if (t === undefined) throw new Error(`${what} is not there yet: use it inside a test or a hook that runs after the suite's before`);
    return t;
  };
  return new Proxy({} as T, {
    get(_, prop) {
      const t = target();
      const v = Reflect.get(t, prop, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
    has: (_, prop) => Reflect.has(target(), prop),
    set: (_, prop, value) => Reflect.set(target(), prop, value),
  });
}

/**
 * Register the suite's before/after hooks. `opts` may be a function, called
 * in the `before` hook, for settings that need something made first (a
 * directory, a file).
 */
export function useDaemon(opts: StartOptions | (() => StartOptions) = {}): DaemonFixture {
  let d: Daemon | undefined;
  let c: TrlClient | undefined;
  before(async () => {
    d = await startDaemon(typeof opts === 'function' ? opts() : opts);
    c = await connect(d);
  });
  after(async () => {
    c?.close();
    await d?.shutdownClean();
  });
  return { d: later(() => d, "the suite's daemon"), c: later(() => c, "the suite's client") };
}

/** useDaemon for a daemon serving HTTP too (startHttpDaemon): `h.d`, `h.url`, `h.port`, `h.token`. */
export function useHttpDaemon(opts: HttpStartOptions | (() => HttpStartOptions) = {}): HttpDaemon {
  let h: HttpDaemon | undefined;
  before(async () => {
    h = await startHttpDaemon(typeof opts === 'function' ? opts() : opts);
  });
  after(async () => {
    await h?.d.shutdownClean();
  });
  return later(() => h, "the suite's HTTP daemon");
}

/** useDaemon for a daemon whose default runtime is `tier` (startTierDaemon; `h.skip(t)` in each test). */
export function useTierDaemon(tier: TierName, opts: TierOptions | (() => TierOptions) = {}): TierDaemon {
  let h: TierDaemon | undefined;
  before(async () => {
    h = await startTierDaemon(tier, typeof opts === 'function' ? opts() : opts);
  });
  after(async () => {
    await h?.close();
  });
  return later(() => h, `the suite's ${tier} daemon`);
}
