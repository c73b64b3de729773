import { readFileSync } from 'node:fs';
import { WRAPPER_SCRIPT } from './exec.js';
import { scanTree, type TreeScan } from '../shared/process-table.js';
import { signalAll, terminateTree } from '../shared/signals.js';

/**
 * The fallback tree kill, from the daemon's side, for when no exec can start
 * in the container — its pids limit is exhausted, which is exactly when a kill
 * matters. With the engine on this machine a container's processes are host
 * processes carrying the same tracking tag, so the host tier's /proc scan
 * finds them (given the right to read their environment: root, or the same
 * uid). The exec wrappers are spared, as in the container (killer.ts).
 * With a remote engine it finds nothing; destroying the session still works.
 */
export class HostSideKill {
  constructor(private readonly tagPrefix: string) {}

  /** Host pids in scope: one command's tagged tree, or all of the session's. */
  processes(commandTag: string | null): number[] {
    return this.scan(commandTag).pids;
  }

  signal(commandTag: string | null, signal: NodeJS.Signals): number {
    return signalAll(this.processes(commandTag), signal);
  }

  terminate(commandTag: string | null, graceMs: number): Promise<number> {
    return terminateTree(() => this.scan(commandTag), graceMs);
  }

  private scan(commandTag: string | null): TreeScan {
    const found = scanTree(this.tagPrefix + (commandTag ?? ''), commandTag === null);
    return { pids: found.pids.filter((pid) => !isWrapper(pid)), unsettled: found.unsettled };
  }
}

function isWrapper(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[2] === WRAPPER_SCRIPT;
  } catch {
    return false;
  }
}
