import { execFile } from 'node:child_process';
import { accessSync, chmodSync, constants, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Enforcement, Requirement, SessionOptions, Tier, TierHealth, TierSession } from '../tier.js';
import type { LocalMachine } from '../host/local-machine.js';
import { fifoDirPrefix } from '../shared/fifo-pool.js';
import { nativeArch, seccompFilter } from '../shared/seccomp/index.js';
import type { BoundLayout } from './bound-layout.js';
import { bwrapArgs, type HostProbe, type PathKind } from './bwrap-args.js';
import { ENV_FD, SandboxSession, type SandboxParts } from './sandbox-session.js';
import { EntryForker } from './entry-forker.js';
import { ENTRY_PATH, Sandbox, type SandboxShape } from './sandbox.js';
import { INFO_FD } from './wait-ready.js';
import { holderArgv } from './holder.js';
import { errorMessage } from '../shared/thrown.js';
import { WarmPool } from '../shared/warm-pool.js';

const TMP_BYTES = 1024 * 1024 * 1024;
/** Variables a sandboxed shell gets from the daemon's environment; the rest (credentials included) stay outside. */
const PASSED_VARS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TERM'];

export interface SandboxSettings {
  /** Paths hidden in every sandbox besides the home secret stores (env file, logs, runtime directory, sandbox_hide). */
  hide: string[];
  /** UID[:GID] commands run as when the daemon is root (isolated_user); default: the workspace's owner. */
  user: string | undefined;
  /** Sandboxes kept started for sessions in the default workspace (sandbox_warm_pool); 0: none. */
  warmPool: number;
  /** The default sessions' workspace (default_working_dir, or the daemon's directory), the only one the pool serves. */
  defaultWorkspace: string;
}

/** Shapes of the default workspace kept warm at once: without and with network. */
const POOL_SHAPES = 2;
/** After a failed start, leave the shape cold this long instead of retrying in a loop. */
const POOL_BACKOFF_MS = 30_000;

/** The host filesystem as bwrapArgs sees it. */
export const hostProbe: HostProbe = {
  kind(path: string): PathKind {
    try {
      const st = lstatSync(path);
      return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
    } catch {
      return null;
    }
  },
  readlink: (path) => readlinkSync(path),
  realpath: (path) => realpathSync(path),
};

/**
 * bubblewrap sandboxes (docs/security.md, isolation tiers): one per session, alive as long as the
 * session, so background processes and the private /tmp survive between
 * commands. Each command enters through one Perl process (sandbox-entry.ts)
 * that joins the sandbox's namespaces, drops every capability (and, under a
 * root daemon, switches to the session's unprivileged user), installs the
 * seccomp filter, takes the command's environment from a pipe, enters the
 * working directory and execs the command. The entry starts with a clean
 * environment, so nothing of the command's (an LD_PRELOAD of a library in
 * the workspace) reaches a process that is not yet confined.
 * Commands are otherwise started like host commands (same cgroups, rlimits,
 * tags, pipes, PTY), so everything the host tier does for trees, limits and
 * output holds here too.
 */
export class SandboxTier implements Tier {
  readonly name = 'sandbox' as const;
  readonly isolated = true;
  readonly images = false;
  /** /tmp and /run are the sandbox's own: paths are checked inside, by the shell. */
  readonly hostPaths = false;
  readonly defaultShell = undefined;
  readonly tools: { bwrap: string | null; perl: string | null };
  /** The seccomp programs: with Unix sockets (network: true) and without. Null: no filter for this machine's ABI. */
  readonly filters: { network: Buffer; isolated: Buffer } | null;

  /** The resident Perl that forks pipe commands' entries, made with the first session; null where descriptors cannot be passed. */
  private forker: EntryForker | null | undefined;

  /** Private directory (named like the FIFO directories, so crash recovery removes it). */
  private readonly dir: string;
  /** An empty file mounted over hidden files, an empty directory over ghosts. */
  readonly emptyFile: string;
  readonly emptyDir: string;
  /** A workspace for the health check, writable by anyone (sticky), inside the private directory. */
  private readonly healthWorkspace: string;
  /** Sandboxes not yet killed: sessions' and warm ones. */
  readonly live = new Set<{ kill(): Promise<void> }>();
  /** Started sandboxes of the default workspace that no session owns yet (docs/security.md, the sandbox's warm pool). */
  private readonly pool: WarmPool<SandboxShape, Sandbox> | null;
  /** The default workspace with every symlink resolved (sessions' workspaces come resolved); null: none to keep warm. */
  private readonly poolWorkspace: string | null;

  constructor(
    private readonly machine: LocalMachine,
    readonly settings: SandboxSettings,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), fifoDirPrefix(machine.instanceId)));
    chmodSync(this.dir, 0o711);
    this.emptyFile = join(this.dir, 'empty');
    writeFileSync(this.emptyFile, '', { mode: 0o444 });
    this.emptyDir = join(this.dir, 'none');
    mkdirSync(this.emptyDir, { mode: 0o555 });
    this.healthWorkspace = join(this.dir, 'health');
    mkdirSync(this.healthWorkspace);
    chmodSync(this.healthWorkspace, 0o1777);
    this.tools = { bwrap: which('bwrap'), perl: which('perl') };
    const arch = nativeArch();
    this.filters = arch ? { network: seccompFilter({ arch, blockUnixSockets: false }), isolated: seccompFilter({ arch, blockUnixSockets: true }) } : null;
    this.poolWorkspace = settings.warmPool > 0 ? realpathOrNull(settings.defaultWorkspace) : null;
    this.pool =
      this.poolWorkspace !== null
        ? new WarmPool<SandboxShape, Sandbox>({
            size: settings.warmPool,
            key: (shape) => JSON.stringify([shape.workspace, shape.network]),
            start: (shape) => Sandbox.start(this.parts(), shape),
            discard: (sandbox) => sandbox.kill(),
            maxShapes: POOL_SHAPES,
            failureBackoffMs: POOL_BACKOFF_MS,
            // Starting a sandbox does synchronous work (the guard's walk, spawn): after the response.
            deferRefill: true,
          })
        : null;
  }

  async healthCheck(): Promise<TierHealth> {
    const missing = Object.entries(this.tools)
      .filter(([, p]) => p === null)
      .map(([n]) => n);
    if (process.platform !== 'linux') return { available: false, isolated: true, detail: 'bubblewrap sandboxes need Linux' };
    if (missing.length > 0) {
      return { available: false, isolated: true, detail: `${missing.join(', ')} not found in PATH: apt-get install bubblewrap perl-base (or your distribution's packages)` };
    }
    if (!this.filters) {
      return { available: false, isolated: true, detail: `seccomp filters are built for x86_64 and aarch64 only (this is ${process.arch}): the sandbox cannot block Unix sockets and keyrings here` };
    }
    let session: SandboxSession | null = null;
    try {
      session = await SandboxSession.start(this.parts(), { sessionTag: 'health', limits: {}, workspace: this.healthWorkspace, network: false, image: undefined });
      const status = await session.run(['/bin/sh', '-c', 'exit 0']);
      if (status !== 0) return { available: false, isolated: true, detail: `a command in a fresh sandbox exited ${status}` };
      return {
        available: true,
        isolated: true,
        detail:
          `bubblewrap ${this.tools.bwrap}: own pid/ipc/uts/net namespaces, read-only system, private /tmp, no capabilities, seccomp (no Unix sockets without network, no keyrings)` +
          (this.pool ? `; ${this.settings.warmPool} warm for the default workspace` : ''),
      };
    } catch (err) {
      return { available: false, isolated: true, detail: errorMessage(err) };
    } finally {
      await session?.destroy(0, []);
    }
  }

  async requirements(): Promise<Requirement[]> {
    const t = this.tools;
    const reqs: Requirement[] = [
      { need: 'Linux', present: process.platform === 'linux', found: process.platform },
      { need: 'bwrap (bubblewrap)', present: t.bwrap !== null, found: t.bwrap ? `${t.bwrap} ${await versionOf(t.bwrap)}` : 'missing: apt-get install bubblewrap' },
      { need: 'perl (commands enter the sandbox, drop every capability and install the seccomp filter)', present: t.perl !== null, found: t.perl ?? 'missing: apt-get install perl-base' },
      {
        need: 'a seccomp filter for this ABI (x86_64, aarch64)',
        present: this.filters !== null,
        found: this.filters ? `${nativeArch()}: no Unix sockets without network, no keyrings, no io_uring, no new namespaces` : `none for ${process.arch}`,
      },
    ];
    if (process.getuid?.() !== 0) {
      const userns = readSysctl('/proc/sys/kernel/unprivileged_userns_clone') ?? '1';
      const max = readSysctl('/proc/sys/user/max_user_namespaces') ?? '1';
      const ok = userns !== '0' && max !== '0';
      reqs.push({ need: 'unprivileged user namespaces (not root)', present: ok, found: ok ? 'enabled' : 'disabled: sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000' });
    }
    return [...reqs, ...this.machine.migrationRequirements()];
  }

  enforcement(): Enforcement {
    const host = this.machine.enforcement();
    return { ...host, detail: `${host.detail}; inside bubblewrap namespaces with a seccomp filter` };
  }

  /**
   * A session's sandbox: in the default workspace, a warm one when there is
   * one and it is still exactly what a cold start would build now (staleness:
   * the same workspace directory, guard, user, hidden paths); else a new one.
   * The pool refills behind every session of the default workspace, the first
   * one included.
   */
  async createSession(opts: SessionOptions): Promise<TierSession> {
    // The first session starts the forker (in the background; an idle daemon has none).
    if (this.forker === undefined) {
      const { perl } = this.tools;
      const arch = nativeArch();
      this.forker = perl && arch ? EntryForker.create({ perl, arch, envFd: ENV_FD, env: { PATH: ENTRY_PATH } }) : null;
    }
    this.forker?.warm();
    const parts = this.parts();
    const shape: SandboxShape = { workspace: opts.workspace, network: opts.network };
    let sandbox: Sandbox | null = null;
    if (this.pool && opts.workspace === this.poolWorkspace) {
      sandbox = await this.pool.take(shape);
      if (sandbox && sandbox.staleness() !== null) {
        await sandbox.kill();
        sandbox = null;
      }
    }
    sandbox ??= await Sandbox.start(parts, shape);
    return SandboxSession.adopt(parts, sandbox, opts);
  }

  /** What a session needs of this tier; only called once the health check found every tool and a filter. */
  private parts(): SandboxParts {
    const { bwrap, perl } = this.tools;
    const arch = nativeArch();
    if (!bwrap || !perl || !this.filters || !arch) throw new Error('the sandbox tier is not available here (trl doctor says why)');
    return {
      machine: this.machine,
      bwrap,
      tools: { bwrap, perl },
      filters: this.filters,
      arch,
      forker: this.forker ?? null,
      user: this.settings.user,
      // The holder (pid 1) keeps the namespaces alive; its "ready" says the mounts are in place.
      argv: (shape, bound) => [...this.argv(shape, bound), '--', ...holderArgv(perl, arch)],
      live: this.live,
    };
  }

  baseEnv(runtimeEnv: ReadonlyMap<string, string>): Map<string, string> {
    const env = new Map<string, string>();
    for (const [k, v] of runtimeEnv) if (PASSED_VARS.includes(k) || k.startsWith('LC_')) env.set(k, v);
    if (process.getuid?.() === 0) {
      // Commands run as another user: root's home is not theirs; the sandbox's private /tmp is.
      env.set('HOME', '/tmp');
      env.delete('USER');
      env.delete('LOGNAME');
    }
    return env;
  }

  /**
   * The local machine reaps every instance's cgroups, tagged processes and ghosts; sandboxes die with their daemon
   * (--die-with-parent), and one that was starting when its daemon was killed carries its instance's tag (sandboxTag).
   */
  async deadInstances(): Promise<string[]> {
    return [];
  }

  async reapInstance(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    // Sessions are destroyed before the tiers close; whatever is left (the warm ones, one still starting) goes now.
    await this.pool?.close();
    await Promise.all([...this.live].map((s) => s.kill()));
    this.forker?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** bwrap's arguments for a new sandbox, up to (not including) `--` and the holder; `fds` name the bound descriptors. */
  argv(shape: SandboxShape, bound: BoundLayout): string[] {
    return bwrapArgs(
      {
        workspace: bound.workspace,
        guard: bound.guard,
        emptyDir: this.emptyDir,
        network: shape.network,
        home: homedir(),
        root: process.getuid?.() === 0,
        hide: this.settings.hide,
        infoFd: INFO_FD,
        tmpBytes: TMP_BYTES,
        emptyFile: this.emptyFile,
      },
      hostProbe,
    );
  }
}

function realpathOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

function readSysctl(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** `<tool> --version`, first line. */
function versionOf(tool: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(tool, ['--version'], { timeout: 5000 }, (err, stdout) => resolve(err ? '(version unknown)' : (stdout.trim().split('\n')[0] ?? '')));
  });
}

/** First executable named `name` in PATH (plus the sbin directories), or null. */
function which(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}
