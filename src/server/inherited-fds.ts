import { readdirSync } from 'node:fs';
import { libc as loadLibc } from '../tiers/shared/libc.js';
import { errorMessage } from '../tiers/shared/thrown.js';

const CLOSE_RANGE_CLOEXEC = 4;
const FIOCLEX = 0x5451;

/**
 * Every descriptor the daemon inherited above stderr becomes close-on-exec;
 * returns what failed, or null. Node opens its own descriptors close-on-exec,
 * and a command gets only the ones trl hands it (dup2 clears the flag on
 * those); but whatever started the daemon may have left others open — a
 * directory, a pipe of an agent's harness — and each would reach every
 * command, sandboxed ones included: a directory descriptor is a way out of
 * any sandbox (`/proc/self/fd/N/…`), and a pipe's write end held by a
 * background command keeps its reader waiting. close_range(2) marks them all
 * at once (Linux 5.11, glibc 2.34); elsewhere each descriptor listed in
 * /proc/self/fd gets FIOCLEX. Marked, not closed: the daemon itself may still
 * read what it was given.
 */
export function closeInheritedOnExec(): string | null {
  if (process.platform !== 'linux') return `not on Linux (${process.platform})`;
  try {
    const { lib } = loadLibc();
    try {
      const closeRange = lib.func('int close_range(unsigned int, unsigned int, int)');
      if (closeRange(3, 0xffffffff, CLOSE_RANGE_CLOEXEC) === 0) return null;
    } catch {
      /* glibc before 2.34: no close_range; one descriptor at a time below */
    }
    const ioctl = lib.func('int ioctl(int, unsigned long)');
    const failed = descriptorsAboveStderr().filter((fd) => ioctl(fd, FIOCLEX) !== 0);
    // The listing's own descriptor is closed by now and fails harmlessly: only those still open count.
    const open = new Set(descriptorsAboveStderr());
    const left = failed.filter((fd) => open.has(fd));
    return left.length === 0 ? null : `could not mark descriptors ${left.join(', ')} close-on-exec`;
  } catch (err) {
    return `cannot mark inherited descriptors close-on-exec (${errorMessage(err)})`;
  }
}

/** This process's open descriptors above 2, from /proc/self/fd (the listing's own among them, closed once it returns). */
export function descriptorsAboveStderr(): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .filter((fd) => Number.isInteger(fd) && fd > 2);
}
