import { accessSync, constants, statSync } from 'node:fs';
import { TrlError } from '../protocol/errors.js';

/** INVALID_PARAMS naming the parameter, in the same shape zod failures take. */
export function invalidParam(path: string, message: string): TrlError {
  return new TrlError('INVALID_PARAMS', `${path}: ${message}`, { issues: [{ path, message }] });
}

/** The directory must exist; the message says what to pass instead (`show` may mask the path). */
export function requireDirectory(param: string, dir: string, show: (path: string) => string = (p) => p): void {
  let kind: 'dir' | 'other' | 'missing';
  try {
    kind = statSync(dir).isDirectory() ? 'dir' : 'other';
  } catch {
    kind = 'missing';
  }
  requireDirectoryKind(param, dir, kind, show);
}

/** The same, for a path whose kind was found elsewhere (a session's own filesystem: TierSession.directoryKind). */
export function requireDirectoryKind(param: string, dir: string, kind: 'dir' | 'other' | 'missing', show: (path: string) => string = (p) => p): void {
  if (kind === 'missing') throw invalidParam(param, `directory '${show(dir)}' does not exist; create it first or pass an existing absolute directory`);
  if (kind === 'other') throw invalidParam(param, `'${show(dir)}' is not a directory; pass a directory`);
}

/** The shell must be an executable file; otherwise nothing is created (SPAWN_FAILED). */
export function requireExecutable(shell: string): void {
  try {
    if (!statSync(shell).isFile()) throw new Error('not a file');
    accessSync(shell, constants.X_OK);
  } catch {
    throw new TrlError('SPAWN_FAILED', `shell '${shell}' is not an executable file; pass the absolute path of an installed POSIX shell such as /bin/sh or /bin/bash`, { shell });
  }
}

/** Resolve a program name against PATH like execvp; null when not found. */
export function resolveProgram(name: string, pathVar: string | undefined, cwd: string): string | null {
  const isExec = (p: string) => {
    try {
      return statSync(p).isFile() && (accessSync(p, constants.X_OK), true);
    } catch {
      return false;
    }
  };
  if (name.includes('/')) {
    const p = name.startsWith('/') ? name : `${cwd}/${name}`;
    return isExec(p) ? p : null;
  }
  for (const dir of (pathVar ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const p = `${dir || '.'}/${name}`;
    if (isExec(p)) return p;
  }
  return null;
}

/** Whether `dir` is a directory on the host (a container path usually is not). */
export function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
