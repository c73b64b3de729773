import { lstatSync } from 'node:fs';

/**
 * Whether `path` is a file or directory (not a link to one) of this process's
 * user that no one else may write: what the daemon may trust among the names
 * in the shared temp directory that look like its own records.
 */
export function ownedByUs(path: string, kind: 'file' | 'dir'): boolean {
  try {
    const st = lstatSync(path);
    const rightKind = kind === 'file' ? st.isFile() : st.isDirectory();
    return rightKind && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}
