import { readdirSync, readFileSync } from 'node:fs';

/** File descriptors the daemon has open now. */
export function openFdCount(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** The daemon's soft (or hard) RLIMIT_NOFILE, from /proc/self/limits; null where unknown or unlimited. */
export function fdLimit(which: 'soft' | 'hard' = 'soft'): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const fields = line?.slice('Max open files'.length).trim().split(/\s+/) ?? [];
    const n = Number(fields[which === 'soft' ? 0 : 1]);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}
