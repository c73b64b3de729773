import { readdirSync } from 'node:fs';
import { libc as loadLibc } from '../tiers/shared/libc.js';
import { errorMessage } from '../tiers/shared/thrown.js';

const CLOSE_RANGE_CLOEXEC = 4;
const FIOCLEX = 0x5451;

export interface InheritedFds {
  /** Descriptors above stderr that were open at start, now close-on-exec (what a command could have inherited). */
  marked: number[];
  /** What failed, when something did. */
  problem: string | null;
}

/**
 * Every descriptor the daemon inherited above stderr becomes close-on-exec.
 * Node opens its own descriptors close-on-exec, and a command gets only the
 * ones trl hands it (dup2 clears the flag on those); but whatever started the
 * daemon may have left others open — a directory, a pipe of an agent's
 * harness — and each would reach every command, sandboxed ones included: a
 * directory descriptor is a way out of any sandbox (`/proc/self/fd/N/…`), and
 * a pipe's write end held by a background command keeps its reader waiting.
 * close_range(2) marks them all at once (Linux 5.11, glibc 2.34); elsewhere
 * each descriptor listed in /proc/self/fd gets FIOCLEX. Marked, not closed:
 * the daemon itself may still read what it was given.
 */
export function closeInheritedOnExec(): InheritedFds {
  if (process.platform !== 'linux') return { marked: [], problem: `not on Linux (${process.platform})` };
  let open: number[];
  try {
    open = readdirSync('/proc/self/fd')
      .map(Number)
      .filter((fd) => Number.isInteger(fd) && fd > 2);
  } catch (err) {
    return { marked: [], problem: `cannot list /proc/self/fd (${errorMessage(err)})` };
  }
  try {
    const { lib } = loadLibc();
    try {
      const closeRange = lib.func('int close_range(unsigned int, unsigned int, int)');
      if (closeRange(3, 0xffffffff, CLOSE_RANGE_CLOEXEC) === 0) return { marked: open, problem: null };
    } catch {
      /* glibc before 2.34: no close_range; one descriptor at a time below */
    }
    const ioctl = lib.func('int ioctl(int, unsigned long)');
    const failed = open.filter((fd) => ioctl(fd, FIOCLEX) !== 0);
    // A descriptor that closed meanwhile (the listing's own) fails harmlessly: only live ones count.
    const stillOpen = new Set(readdirSync('/proc/self/fd').map(Number));
    const left = failed.filter((fd) => stillOpen.has(fd));
    return { marked: open, problem: left.length === 0 ? null : `could not mark descriptors ${left.join(', ')} close-on-exec` };
  } catch (err) {
    return { marked: [], problem: `cannot load koffi (${errorMessage(err)}): reinstall trl's dependencies (npm ci)` };
  }
}
