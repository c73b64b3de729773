/**
 * Waiting for a condition: the one way a test synchronises with the daemon,
 * its commands or the kernel. Never a fixed sleep: poll the condition until it
 * holds or a deadline passes. Deadlines are generous (a loaded machine is
 * slow, and a condition that holds ends the wait at once); a deadline is how
 * long a test gives up after, never a claim about how fast something is.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** Default deadline of every wait: long enough for a starved machine, only reached when the test fails. */
export const DEADLINE_MS = 60_000;

/** Poll until predicate() is true; resolves true, or false once timeoutMs have passed. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = DEADLINE_MS, intervalMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() >= deadline) return false;
    await delay(intervalMs);
  }
}

/**
 * Whether `p` settles within the default deadline, and its outcome. For a call that must return
 * "at once" (without waiting for something that would take far longer): give that something an
 * unbounded or very long duration, and the deadline is only reached when the test fails.
 */
export async function settles<T>(p: Promise<T>): Promise<{ settled: false } | { settled: true; value: T }> {
  let out: { settled: true; value: T } | undefined;
  let failure: { error: unknown } | undefined;
  p.then(
    (value) => (out = { settled: true, value }),
    (error: unknown) => (failure = { error }),
  );
  await waitFor(() => out !== undefined || failure !== undefined);
  if (failure) throw failure.error;
  return out ?? { settled: false };
}
