import type { TierFiles } from '../../tier-files.js';
import type { RunAs } from '../run-as.js';
import { closeQuietly } from './fd-jail.js';
import { JailFiles } from './jail-files.js';

/**
 * A session's workspace as a descriptor opened when the session started:
 * the jail is the directory the workspace was then, whatever its path names
 * later. Its files (JailFiles) are set up on first use and closed, with the
 * descriptor, when the session ends.
 */
export class PinnedWorkspace {
  private files: JailFiles | null = null;
  private closed = false;

  constructor(
    private readonly rootFd: number,
    private readonly workspacePaths: string[],
    private readonly runAs: RunAs | null,
    /** The daemon is the session's user: quick operations may run in it. */
    private readonly inProcess: boolean,
  ) {}

  open(opTimeoutMs: number): TierFiles {
    if (this.closed) throw new Error('the session has ended');
    this.files ??= new JailFiles({ rootFd: this.rootFd, workspacePaths: this.workspacePaths, runAs: this.runAs, inProcess: this.inProcess, opTimeoutMs });
    return this.files;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.files) await this.files.close();
    else closeQuietly(this.rootFd);
  }
}
