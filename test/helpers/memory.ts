/**
 * A process's memory as the kernel counts it: its resident set now, and its
 * peak since a mark. The peak (VmHWM) misses nothing between samples, so a
 * test asserts a bound on it rather than on samples taken by a timer that a
 * busy machine may starve.
 */
import * as fs from 'node:fs';

export const MiB = 1024 * 1024;

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

/** Resident set size of a process in bytes (VmRSS), or null if it is gone. */
export function rssBytes(pid: number): number | null {
  return statusKb(pid, 'VmRSS');
}

/** The largest resident set of the process since it started or since resetPeakRss (VmHWM), bytes; null if gone. */
export function peakRssBytes(pid: number): number | null {
  return statusKb(pid, 'VmHWM');
}

/** Start a new peak: VmHWM becomes the current RSS (writing 5 to /proc/<pid>/clear_refs; root or the owner). */
export function resetPeakRss(pid: number): void {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** Samples a process's RSS every intervalMs until stopped; reports the maximum. */
export class RssSampler {
  max = 0;
  samples = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly pid: number,
    intervalMs = 25,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }
  sample(): void {
    const r = rssBytes(this.pid);
    if (r !== null) {
      this.samples++;
      if (r > this.max) this.max = r;
    }
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.max;
  }
}
