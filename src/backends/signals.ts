import { constants } from 'node:os';

/** Send `signal` to each pid; returns how many were delivered. */
export function signalAll(pids: Iterable<number>, signal: NodeJS.Signals): number {
  let n = 0;
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
      n++;
    } catch {
      /* already gone */
    }
  }
  return n;
}

export function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number>)[name];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
