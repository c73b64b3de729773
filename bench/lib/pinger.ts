import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export interface PingerReport {
  /** Each ping's time from request to answer, ms, taken while the load was on. */
  samples: number[];
  /** p99 of the probe process's own event loop delay while the load was on, ms (null: never active). */
  ownLoopDelayP99Ms: number | null;
}

export interface Pinger {
  /** Ping (and record) while the load runs; stop recording when it does not. */
  setActive(active: boolean): void;
  /** End the probe and collect what it measured. */
  stop(): Promise<PingerReport>;
}

const CHILD = fileURLToPath(new URL('./pinger-child.js', import.meta.url));

/**
 * A probe of the daemon's responsiveness under load: `system.ping` sent one
 * after the other, `gapMs` apart, by a client in a process of its own. Sent
 * from the bench's process, a ping also waited for that process's event loop
 * (eight clients' answers to handle) and its garbage collector (a heap grown
 * by the streaming metrics): the bench's delays were counted as the daemon's.
 * Like any client, the probe still needs a CPU to wake on; its own loop delay
 * is reported beside the pings so that the machine's share can be seen.
 */
export async function startPinger(socketPath: string, gapMs: number): Promise<Pinger> {
  const child = fork(CHILD, [socketPath, String(gapMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit');
  const [first] = (await Promise.race([once(child, 'message'), exited.then(([code, signal]) => [`exit ${String(code)} ${String(signal)}`])])) as unknown[];
  if (first !== 'ready') throw new Error(`the ping probe did not start (${String(first)})`);
  let report: Promise<PingerReport> | null = null;
  return {
    setActive(active) {
      if (child.connected) child.send(active ? 'active' : 'idle');
    },
    stop() {
      report ??= (async () => {
        const message = once(child, 'message') as Promise<[PingerReport]>;
        child.send('stop');
        const [r] = await Promise.race([message, exited.then(([code, signal]) => Promise.reject(new Error(`the ping probe exited (${String(code)}, ${String(signal)}) before reporting`)))]);
        await exited;
        return r;
      })();
      return report;
    },
  };
}
