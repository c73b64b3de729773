/** Timers the daemon races work against, in one place. */

/**
 * How long a process or thread the daemon starts for its own work (a files
 * helper, a walk worker) may take to say it is ready: a deadline for a
 * starved machine, not a speed. The time bounds of its work count from then.
 */
export const START_DEADLINE_MS = 60_000;

/** Why such a helper failed: it did not start within `ms`. */
export const notStartedMessage = (what: string, ms: number): string => `${what} did not start within ${ms / 1000} s: the machine may be overloaded`;

export const sleep = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Whether `p` settles within `ms` (true) or the time runs out first (false);
 * `p` itself is not cancelled, and its rejection is not rethrown here.
 */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([
      p.then(
        () => true as const,
        () => true as const,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `p`, or a rejection with `timeoutError()` after `ms`: a call that stopped answering must not hang its caller. */
export async function within<T>(p: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(timeoutError()), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
