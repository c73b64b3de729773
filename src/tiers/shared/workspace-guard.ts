import { lstatSync, readdirSync, realpathSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

/**
 * What an isolated tier protects inside a writable workspace, so that nothing
 * a command writes there runs later on the host without anyone choosing to run
 * it (docs/security.md, isolation tiers; the list follows the reasoning of Anthropic's
 * sandbox-runtime: files that tools read and execute implicitly).
 *
 * - A repository's `.git` stays a mount point (it cannot be renamed away and
 *   rebuilt) with `hooks/` and `config` read-only: git runs hooks and
 *   `core.fsmonitor`, `core.hooksPath`, `core.pager`, aliases and filter
 *   drivers from there on a plain `git status` of the host's user.
 * - Files that shells, direnv, editors and agents load by themselves are
 *   read-only when they exist.
 * - A few must not appear either: `.git` (a new repository with an fsmonitor
 *   would run on the host's next `git status`), shell rc files and `.envrc`.
 *   Where they are absent, an empty read-only directory is mounted in their
 *   place (a directory, not a file: git ignores an empty directory, and the
 *   git of the host then looks further up for a repository as before). The
 *   backend removes these mount points when the session ends.
 *
 * Not covered (docs/security.md says so): a repository created in a
 * subdirectory, files the user runs on purpose (Makefile, package.json
 * scripts, .npmrc when running npm), and a protected name that is a symlink
 * (its target is protected when it lies in the workspace; the link itself can
 * be replaced).
 */

/** Read-only when present. */
export const PROTECTED_NAMES = [
  '.bashrc',
  '.bash_profile',
  '.bash_login',
  '.bash_logout',
  '.profile',
  '.zshrc',
  '.zshenv',
  '.zprofile',
  '.zlogin',
  '.zlogout',
  '.envrc',
  '.gitconfig',
  '.gitmodules',
  '.mcp.json',
  '.ripgreprc',
  'mise.toml',
  '.mise.toml',
  '.vscode',
  '.idea',
  '.claude',
  '.cursor',
  '.devcontainer',
] as const;

/** Uncreatable: replaced by an empty read-only directory while absent. */
export const UNCREATABLE_NAMES = ['.git', '.bashrc', '.bash_profile', '.profile', '.zshrc', '.zprofile', '.zshenv', '.envrc'] as const;

/** Inside each repository's .git. */
const GIT_PROTECTED = ['hooks', 'config'] as const;

/** How deep below the workspace nested repositories are looked for, and how many directories at most. */
const NESTED_DEPTH = 3;
const NESTED_MAX_DIRS = 5000;
/** Directories never searched for nested repositories (huge, and not where projects are). */
const NOT_SEARCHED = new Set(['node_modules', '.git', 'target', 'dist', 'build', 'vendor', '.venv', 'venv', '__pycache__']);

export interface WorkspaceGuard {
  /** Existing `.git` directories: bound onto themselves, so they cannot be renamed or removed. */
  mountPoints: string[];
  /** Existing files and directories made read-only (after the mount points). */
  readOnly: string[];
  /** Absent paths that get an empty read-only directory. */
  ghosts: string[];
}

type Kind = 'dir' | 'file' | 'symlink' | null;

function kindOf(path: string): Kind {
  try {
    const st = lstatSync(path);
    return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

/** The real path of a symlink that resolves inside `workspace`, else null. */
function targetInside(path: string, workspace: string): string | null {
  try {
    const real = realpathSync(path);
    return real.startsWith(workspace + '/') ? real : null;
  } catch {
    return null;
  }
}

/** Paths that are ghosts of live sessions (GhostMounts): they stand for absent files. */
export interface GhostSet {
  has(path: string): boolean;
}

/**
 * The guard of one workspace (its real path), as the host filesystem is now.
 * A ghost another session placed counts as absent, so this session holds it
 * too: were it guarded as an existing file, it would vanish (and its guard
 * with it) when that session ends.
 */
export function guardWorkspace(workspace: string, ghosts: GhostSet = new Set<string>()): WorkspaceGuard {
  const guard: WorkspaceGuard = { mountPoints: [], readOnly: [], ghosts: [] };
  const kindNow = (path: string) => (ghosts.has(path) ? null : kindOf(path));
  const protect = (path: string) => {
    const kind = kindNow(path);
    if (kind === 'dir' || kind === 'file') guard.readOnly.push(path);
    else if (kind === 'symlink') {
      const target = targetInside(path, workspace);
      if (target && kindOf(target) !== 'symlink' && kindOf(target) !== null) guard.readOnly.push(target);
    }
    return kind;
  };
  const repo = (dir: string) => {
    const git = join(dir, '.git');
    const kind = kindNow(git);
    if (kind === 'dir') {
      guard.mountPoints.push(git);
      for (const p of GIT_PROTECTED) protect(join(git, p));
    } else if (kind === 'file') {
      guard.readOnly.push(git); // a worktree's link to its gitdir
    }
    return kind;
  };
  for (const name of PROTECTED_NAMES) protect(join(workspace, name));
  for (const name of UNCREATABLE_NAMES) {
    const path = join(workspace, name);
    if (name !== '.git' && kindNow(path) === null) guard.ghosts.push(path);
  }
  if (repo(workspace) === null) guard.ghosts.push(join(workspace, '.git'));
  for (const dir of nestedDirs(workspace)) repo(dir);
  guard.readOnly = [...new Set(guard.readOnly)];
  return guard;
}

/** Directories below the workspace (depth ≤ NESTED_DEPTH, bounded), where nested repositories may be. */
function nestedDirs(workspace: string): string[] {
  const found: string[] = [];
  let level = [workspace];
  for (let depth = 1; depth <= NESTED_DEPTH && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!e.isDirectory() || NOT_SEARCHED.has(e.name)) continue;
        if (found.length >= NESTED_MAX_DIRS) return found;
        const path = join(dir, e.name);
        found.push(path);
        next.push(path);
      }
    }
    level = next;
  }
  return found;
}
