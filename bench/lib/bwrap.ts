import type { SpawnSpec } from './baseline.js';
import { which } from './which.js';

/**
 * The sandbox tier's physical baseline (docs/benchmarks.md): a bare `bwrap … true`
 * spawned from Node like the host baseline (stdio pipes, awaited to 'close'),
 * with the argument list the daemon gives a new session's sandbox.
 */
export interface BwrapBaseline {
  /** 'daemon': SandboxTier.argv() of the built daemon; 'minimal': the fallback list below. */
  source: 'daemon' | 'minimal';
  /** Why the daemon's own list could not be used (source 'minimal'). */
  fallbackReason?: string;
  /** The bare run: bwrap with every argument, ending in `-- true`. */
  spec: SpawnSpec;
  close(): Promise<void>;
}

export interface BwrapLayout {
  /** The sessions' workspace (bound read-write). */
  workspace: string;
  /** Paths the daemon hides in every sandbox besides the secret stores (its runtime directory, the env file). */
  hide: string[];
}

/** The minimal equivalent when the daemon's list is out of reach: the namespaces and mounts a command needs. */
function minimalArgs(layout: BwrapLayout, root: boolean): string[] {
  const a = ['--die-with-parent', '--new-session', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net'];
  a.push(...(root ? ['--cap-drop', 'ALL'] : ['--unshare-user']));
  a.push('--ro-bind', '/usr', '/usr');
  for (const l of ['bin', 'sbin', 'lib', 'lib64']) a.push('--symlink', `usr/${l}`, `/${l}`);
  a.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--bind', layout.workspace, layout.workspace, '--chdir', '/');
  return a;
}

/**
 * The daemon's own list (SandboxTier.argv(), built from the same layout: the
 * arguments before `--` and the holder) minus `--info-fd` (the daemon reads
 * the sandbox's pid there; `true` needs no reader), with `true` as the
 * program instead of the session's holder.
 */
async function daemonArgs(layout: BwrapLayout): Promise<{ args: string[]; bwrap: string | null; close: () => Promise<void> }> {
  const { SandboxTier } = await import('../../src/tiers/sandbox/sandbox-tier.js');
  const { newInstanceId } = await import('../../src/tiers/shared/instance-id.js');
  // argv() reads only the backend's settings and its private empty file; the host backend is asked for nothing but
  // its instance id, which names the bench's pid: a daemon starting later reaps the file's directory only once the bench is gone.
  const fakeHost = { instanceId: newInstanceId(process.pid) } as unknown as ConstructorParameters<typeof SandboxTier>[0];
  const backend = new SandboxTier(fakeHost, { hide: layout.hide, user: undefined, warmPool: 0, defaultWorkspace: layout.workspace });
  try {
    // The same guard the daemon computes, bound by path (the bench opens no descriptors).
    const { guardWorkspace } = await import('../../src/tiers/shared/workspace-guard.js');
    const guard = guardWorkspace(layout.workspace);
    const byPath = (path: string) => ({ path, fd: null });
    const args = backend.argv(
      { workspace: layout.workspace, network: false },
      { workspace: byPath(layout.workspace), guard: { mountPoints: guard.mountPoints.map(byPath), readOnly: guard.readOnly.map(byPath), ghosts: guard.ghosts } },
    );
    const info = args.indexOf('--info-fd');
    if (info >= 0) args.splice(info, 2);
    return { args, bwrap: backend.tools.bwrap, close: () => backend.close() };
  } catch (err) {
    await backend.close();
    throw err;
  }
}

export async function bwrapBaseline(layout: BwrapLayout): Promise<BwrapBaseline> {
  let args: string[];
  let source: BwrapBaseline['source'] = 'daemon';
  let fallbackReason: string | undefined;
  let bwrap = which('bwrap');
  let close = async () => {};
  try {
    const d = await daemonArgs(layout);
    args = d.args;
    bwrap = d.bwrap ?? bwrap;
    close = d.close;
  } catch (err) {
    source = 'minimal';
    fallbackReason = err instanceof Error ? err.message : String(err);
    args = minimalArgs(layout, process.getuid?.() === 0);
  }
  if (bwrap === null) {
    await close();
    throw new Error('bwrap not found in PATH for the baseline');
  }
  return {
    source,
    ...(fallbackReason !== undefined ? { fallbackReason } : {}),
    spec: { file: bwrap, args: [...args, '--', 'true'], opts: { cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } } },
    close,
  };
}
