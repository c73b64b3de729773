import { realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, sep } from 'node:path';
import { invalidParam } from './checks.js';

/**
 * Which host directories an isolated session may have as its workspace, the
 * one directory its sandbox or container can write (docs/security.md, isolation tiers). The client is
 * not trusted: a workspace of `/run` reached docker.sock, one of `/etc` or
 * `/usr/local/bin` plants code the host runs. So workspaces are an operator
 * decision: they must resolve (every symlink followed) inside one of the
 * configured roots, and a few places are never a workspace whatever the roots.
 */

/** Never a workspace, nor anything below them: the system, the kernel's views, the engines' state. */
const SYSTEM_TREES = [
  '/proc',
  '/sys',
  '/dev',
  '/run',
  '/boot',
  '/etc',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/var/lib',
  '/var/run',
  '/var/lock',
  '/var/log',
  '/var/spool',
  '/var/cache',
  '/var/mail',
  '/var/backups',
  '/snap',
  '/lost+found',
];

/** Never a workspace themselves (a project directory below them is fine): shared or parent directories. */
const SHARED_DIRS = ['/', '/tmp', '/var/tmp', '/var', '/home', '/root', '/opt', '/srv', '/mnt', '/media', '/usr/local'];

/** Credential stores under a home directory: no workspace inside them. */
const HOME_SECRET_DIRS = ['.ssh', '.aws', '.azure', '.config/gcloud', '.config/gh', '.docker', '.kube', '.gnupg', '.password-store', '.local/share/keyrings'];

export interface WorkspacePolicyInput {
  /** Operator's roots (unresolved; may be symlinks). */
  roots: string[];
  /**
   * The daemon's own files and directories (socket, runtime directory, logs,
   * audit log, env and key files, trl's installation): a workspace may
   * neither contain them nor lie inside them.
   */
  daemonPaths: string[];
  /** The daemon user's home; default os.homedir(). */
  home?: string;
}

/** True when `path` is `dir` or below it, compared component by component (never as a string prefix). */
export function isWithin(path: string, dir: string): boolean {
  if (dir === '/') return true;
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** realpath, or the path itself when it does not exist (yet). */
function resolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export class WorkspacePolicy {
  /** Roots with every symlink resolved. */
  readonly roots: string[];
  private readonly daemonPaths: { path: string; dir: boolean }[];
  private readonly home: string;

  constructor(input: WorkspacePolicyInput) {
    this.roots = input.roots.map(resolved);
    this.home = resolved(input.home ?? homedir());
    this.daemonPaths = input.daemonPaths.map((p) => {
      const real = resolved(p);
      let dir = false;
      try {
        dir = statSync(real).isDirectory();
      } catch {
        /* not there yet (a log file to be created): guarded as a file */
      }
      return { path: real, dir };
    });
  }

  /** Why a root itself can never hold workspaces, or null: checked at start-up. */
  rootProblem(root: string): string | null {
    let st;
    try {
      st = statSync(root);
    } catch {
      return `workspace root ${root} does not exist: create it or fix --workspace-roots`;
    }
    if (!st.isDirectory()) return `workspace root ${root} is not a directory: fix --workspace-roots`;
    const real = resolved(root);
    if (real === '/') return `workspace root ${root} is the whole filesystem: pass project directories to --workspace-roots`;
    const system = SYSTEM_TREES.find((t) => isWithin(real, t));
    if (system) return `workspace root ${root} is a system location (${system}): pass project directories to --workspace-roots`;
    return null;
  }

  /**
   * The workspace with every symlink resolved, or INVALID_PARAMS saying why
   * it cannot be one and what to pass instead. `show` masks secret values in
   * the echoed path.
   */
  check(param: string, workspace: string, show: (p: string) => string = (p) => p): string {
    let real: string;
    try {
      real = realpathSync(workspace);
    } catch {
      throw invalidParam(param, `directory '${show(workspace)}' does not exist; create it first or pass an existing directory under ${this.rootsText()}`);
    }
    if (!statSync(real).isDirectory()) throw invalidParam(param, `'${show(workspace)}' is not a directory; pass a directory under ${this.rootsText()}`);
    const via = real === workspace ? '' : ` (it resolves to ${show(real)})`;
    const refuse = (why: string) => invalidParam(param, `'${show(workspace)}'${via} cannot be the workspace of an isolated session: ${why}`);
    const system = SYSTEM_TREES.find((t) => isWithin(real, t));
    if (system) throw refuse(`it is a system location (${system}); pass a project directory under ${this.rootsText()}`);
    if (SHARED_DIRS.includes(real) || real === this.home) {
      throw refuse(`it is a shared directory${real === this.home ? ' (the home directory)' : ''}, whose every file would become writable; pass a project directory below it`);
    }
    const store = HOME_SECRET_DIRS.map((d) => join(this.home, d)).find((d) => isWithin(real, d));
    if (store) throw refuse(`it is inside the credential store ${store}; pass a project directory`);
    for (const d of this.daemonPaths) {
      // A directory of the daemon's (runtime dir, installation) may be neither contained nor containing;
      // a file of the daemon's (log, audit, env, key) may not be inside the workspace.
      if (isWithin(d.path, real) || (d.dir && isWithin(real, d.path))) {
        throw refuse(`it ${isWithin(d.path, real) ? 'holds' : 'is inside'} the daemon's own ${d.path}; pass a project directory that holds none of trl's files`);
      }
    }
    if (!this.roots.some((r) => isWithin(real, r))) {
      throw refuse(`it is outside the workspace roots (${this.rootsText()}); pass a directory under one of them, or have the operator add a root (--workspace-roots / TRL_WORKSPACE_ROOTS)`);
    }
    return real;
  }

  private rootsText(): string {
    return this.roots.join(', ');
  }
}

/** Directories and files of the daemon a workspace must keep away from. */
export function daemonOwnPaths(opts: { runtimePaths: string[]; files: (string | undefined)[]; installDir: string }): string[] {
  const paths = [...opts.runtimePaths, opts.installDir];
  for (const f of opts.files) if (f) paths.push(f);
  return paths;
}
