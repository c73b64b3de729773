/**
 * A ping monitor: system.ping every `intervalMs` on a connection of its own,
 * for tests that the daemon keeps answering under abuse. Latencies are
 * reported for the log, never asserted (a loaded machine makes them anything).
 */
import { rawConnect, type RawConnection } from './raw-connection.js';
import { waitFor } from './wait.js';

export interface PingReport {
  sent: number;
  answered: number;
  /** Latencies of answered pings, ms. */
  latencies: number[];
  maxMs: number;
  /** Pings still unanswered when the monitor stopped, with their age in ms. */
  outstanding: number[];
  errors: string[];
}

export interface PingMonitor {
  /** Pings answered so far. */
  answered(): number;
  stop(): Promise<PingReport>;
}

/**
 * Send system.ping every `intervalMs` on a connection of its own, whether or
 * not earlier pings were answered, and time each answer.
 */
export async function startPingMonitor(socketPath: string, intervalMs = 100): Promise<PingMonitor> {
  const conn: RawConnection = await rawConnect(socketPath);
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const errors: string[] = [];
  let next = 1;
  let handled = 0;
  let stopped = false;
  const reader = (async () => {
    while (!stopped || sentAt.size > 0) {
      let line;
      try {
        line = await conn.next(250);
      } catch (e) {
        if (conn.isClosed()) {
          errors.push('the ping connection closed');
          return;
        }
        if (stopped) return;
        continue;
      }
      const id = typeof line.id === 'number' ? line.id : NaN;
      const t = sentAt.get(id);
      if (t === undefined) {
        errors.push(`unexpected line ${JSON.stringify(line).slice(0, 200)}`);
        continue;
      }
      sentAt.delete(id);
      handled++;
      if (line.ok !== true) errors.push(`ping ${id} failed: ${JSON.stringify(line.error)}`);
      latencies.push(performance.now() - t);
    }
  })();
  const timer = setInterval(() => {
    const id = next++;
    sentAt.set(id, performance.now());
    conn.send({ id, method: 'system.ping' });
  }, intervalMs);
  return {
    answered: () => handled,
    async stop() {
      clearInterval(timer);
      // every ping sent must come back; the deadline is only reached when one never does
      await waitFor(() => sentAt.size === 0 || errors.length > 0);
      stopped = true;
      const now = performance.now();
      const outstanding = [...sentAt.values()].map((t) => Math.round(now - t));
      sentAt.clear();
      await reader;
      conn.close();
      return {
        sent: next - 1,
        answered: handled,
        latencies,
        maxMs: latencies.length > 0 ? Math.max(...latencies) : 0,
        outstanding,
        errors,
      };
    },
  };
}
