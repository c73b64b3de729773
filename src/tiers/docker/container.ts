import type Docker from 'dockerode';
import type { Argv, SessionLimits } from '../tier.js';

/**
 * The container of one docker session, as data (unit-tested without an
 * engine). What a container is created with is readable by anyone who can run
 * `docker inspect`, so it never holds an environment value: variables travel
 * with each exec instead.
 */
export const LABEL_INSTANCE = 'dev.trl.instance';
/** PATH of a command in a container: the image's own PATH is not a session's. */
export const STANDARD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const LABEL_SESSION = 'dev.trl.session';
/** The machine of the daemon: a remote engine may serve daemons on other machines, whose pids mean nothing here. */
export const LABEL_HOST = 'dev.trl.host';
/** Where the session's FIFO directory (state capture) appears inside the container. */
export const FIFO_MOUNT = '/.trl';
/** An image label naming the trl inside it (an absolute path): its sessions take the inner path (docs/docker-tier.md). */
export const LABEL_INNER_TRL = 'dev.trl.inner';
/**
 * The container's main process only holds it open; commands are execs. Under
 * `Init` (docker-init as pid 1) it gets signals forwarded and orphans reaped.
 * `sleep` with the largest 32-bit argument exists in busybox and coreutils alike.
 */
export const HOLDER: Argv = ['sleep', '2147483647'];
/** docker-init (pid 1) and the holder: counted by the container's pids limit, not the session's. */
export const HOLDER_PIDS = 2;
const NANO_CPUS_PER_CPU = 1e9;

/** What a warm container must match to be handed to a session. */
export interface ContainerShape {
  image: string;
  /** Docker network name, or null for none. */
  network: string | null;
  /** Host directory bind-mounted read-write at the same path. */
  workspace: string;
  /** USER, UID or UID:GID the container (and its execs) run as. */
  user: string;
}

/** What the workspace protects (workspace-guard.ts), as the container mounts it. */
export interface ContainerGuard {
  mountPoints: string[];
  readOnly: string[];
  ghosts: string[];
  /** An empty directory on the engine's host, mounted read-only over each ghost. */
  emptyDir: string;
}

export interface ContainerInput extends ContainerShape {
  instanceId: string;
  /** Names the daemon's machine (LABEL_HOST). */
  host: string;
  /** The session's tag, or `pool-<n>` for a warm container not yet handed out. */
  sessionTag: string;
  limits: SessionLimits;
  /**
   * What is bind-mounted from the daemon's machine: the host directory of this
   * container's state FIFOs (read-only at FIFO_MOUNT) and the workspace's
   * guard. Null on an engine that shares no filesystem with the daemon: then
   * nothing at all is mounted, and the workspace is a directory of the
   * container's own (docs/docker-tier.md#remote-engines).
   */
  binds: { fifoDir: string; guard: ContainerGuard } | null;
  /** The seccomp profile (JSON) of the container (seccomp/docker-profile.ts). */
  seccomp: string;
  /** --docker-runtime (HostConfig.Runtime); undefined: the engine's default. */
  runtime?: string | undefined;
  /** The runtime is gVisor, which opens a FIFO for writing only on a writable mount (docs/docker-tier.md#gvisor-runsc). */
  gvisor?: boolean;
}

export function containerName(instanceId: string, sessionTag: string): string {
  return `trl-${instanceId.slice(0, 8)}-${sessionTag}`;
}

/** Same-named fields of the create's HostConfig and of `container.update`. */
export interface ResourceLimits {
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  PidsLimit?: number;
}

/**
 * Memory (swap capped at the same value, so it cannot be escaped by swapping),
 * CPU (100 % = one CPU) and pids (plus the container's own two processes).
 */
export function resourceLimits(limits: SessionLimits): ResourceLimits {
  const r: ResourceLimits = {};
  if (limits.memory_bytes !== undefined) {
    r.Memory = limits.memory_bytes;
    r.MemorySwap = limits.memory_bytes;
  }
  if (limits.cpu_percent !== undefined) r.NanoCpus = Math.max(1e7, Math.round((limits.cpu_percent / 100) * NANO_CPUS_PER_CPU));
  if (limits.pids !== undefined) r.PidsLimit = limits.pids + HOLDER_PIDS;
  return r;
}

/** Per-process rlimits can only be set when a container is created (not by `update`). */
export function ulimits(limits: SessionLimits): { Name: string; Soft: number; Hard: number }[] {
  const out: { Name: string; Soft: number; Hard: number }[] = [];
  if (limits.cpu_s !== undefined) out.push({ Name: 'cpu', Soft: limits.cpu_s, Hard: limits.cpu_s });
  if (limits.nofile !== undefined) out.push({ Name: 'nofile', Soft: limits.nofile, Hard: limits.nofile });
  return out;
}

export function containerConfig(i: ContainerInput): Docker.ContainerCreateOptions {
  const limitsNow = ulimits(i.limits);
  return {
    name: containerName(i.instanceId, i.sessionTag),
    Image: i.image,
    // Both set, so neither the image's ENTRYPOINT nor its CMD runs.
    Entrypoint: [HOLDER[0]],
    Cmd: HOLDER.slice(1),
    User: i.user,
    WorkingDir: i.workspace,
    Labels: { [LABEL_INSTANCE]: i.instanceId, [LABEL_SESSION]: i.sessionTag, [LABEL_HOST]: i.host },
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    HostConfig: {
      Init: true,
      NetworkMode: i.network ?? 'none',
      // Mounts rather than Binds: paths may hold ':', and a missing source is an error instead of
      // a directory the engine creates as root. FIFOs stay writable on a read-only mount, except
      // under gVisor: there the mount is writable, and the directory (0711, the daemon's) still
      // lets the unprivileged, capability-less container user create nothing in it.
      // The engine mounts parents before children (by depth), so .git goes before .git/hooks.
      Mounts: i.binds ? bindMounts(i.workspace, i.binds, i.gvisor === true) : [],
      ...(i.runtime !== undefined ? { Runtime: i.runtime } : {}),
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges', `seccomp=${i.seccomp}`],
      ...resourceLimits(i.limits),
      ...(limitsNow.length > 0 ? { Ulimits: limitsNow } : {}),
    },
  };
}

/** The workspace, its guard and the FIFO directory, bind-mounted from the daemon's machine. */
function bindMounts(workspace: string, b: { fifoDir: string; guard: ContainerGuard }, gvisor: boolean): Docker.MountSettings[] {
  return [
    { Type: 'bind', Source: workspace, Target: workspace, ReadOnly: false },
    ...b.guard.mountPoints.map((p) => ({ Type: 'bind' as const, Source: p, Target: p, ReadOnly: false })),
    ...b.guard.readOnly.map((p) => ({ Type: 'bind' as const, Source: p, Target: p, ReadOnly: true })),
    ...b.guard.ghosts.map((p) => ({ Type: 'bind' as const, Source: b.guard.emptyDir, Target: p, ReadOnly: true })),
    { Type: 'bind', Source: b.fifoDir, Target: FIFO_MOUNT, ReadOnly: !gvisor },
  ];
}
