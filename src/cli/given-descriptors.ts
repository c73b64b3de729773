import { readFileSync, readlinkSync } from 'node:fs';
import { descriptorsAboveStderr } from '../server/inherited-fds.js';

/** What this process was given, noted before any of it changed (rememberInheritance). */
let given: { stdioFlags: ReadonlyArray<number | null>; descriptors: ReadonlyMap<number, string> } | null = null;

/**
 * Note what this process was given, before Node's streams change it: the
 * status flags of stdin, stdout and stderr (a stream over a pipe makes the
 * pipe non-blocking, and Node undoes that at exit, from what it found at its
 * start; an exec skips that exit, and a shell's pipe would stay non-blocking
 * after the daemon, the next writer into it failing with EAGAIN), and the
 * descriptors open so far (the first stream also makes libuv open a spare
 * /dev/null of its own). execWithDaemonNodeFlags (daemon-node-flags.ts)
 * passes on what is noted here. Called by main() first thing, for the verbs
 * that become a daemon.
 */
export function rememberInheritance(): void {
  given = { stdioFlags: [0, 1, 2].map(statusFlags), descriptors: openDescriptors() };
}

/** A descriptor's status flags (open(2)'s), from /proc/self/fdinfo; null if not known. */
function statusFlags(fd: number): number | null {
  try {
    const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m?.[1] === undefined ? null : parseInt(m[1], 8);
  } catch {
    return null;
  }
}

/** This process's open descriptors above 2, each with what it refers to (`pipe:[123]`, a path). */
function openDescriptors(): Map<number, string> {
  const links = new Map<number, string>();
  for (const fd of descriptorsAboveStderr()) {
    try {
      links.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      /* the listing's own descriptor, closed by now */
    }
  }
  return links;
}

/** stdin's, stdout's and stderr's status flags as given (null where not known, or not noted). */
export function givenStdioFlags(): ReadonlyArray<number | null> {
  return given?.stdioFlags ?? [];
}

/**
 * The descriptors above 2 this process was given and still holds as they
 * were, as opposed to those Node made for itself before any of trl ran:
 * anonymous inodes (epoll, eventfd, io_uring, signalfd) and pipes whose two
 * ends it holds (libuv's wake-up pipes).
 */
export function inheritedDescriptors(): number[] {
  const now = openDescriptors();
  const atStart = given?.descriptors ?? now;
  const ends = new Map<string, number>();
  for (const link of atStart.values()) ends.set(link, (ends.get(link) ?? 0) + 1);
  const nodesOwn = (link: string) => link.startsWith('anon_inode:') || (link.startsWith('pipe:') && (ends.get(link) ?? 0) > 1);
  return [...atStart].filter(([fd, link]) => now.get(fd) === link && !nodesOwn(link)).map(([fd]) => fd);
}
