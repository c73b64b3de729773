import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tier, TierSession, Enforcement, Requirement, SessionLimits, SessionOptions, TierHealth } from '../tier.js';
import { containerConfig, LABEL_HOST, LABEL_INNER_TRL, LABEL_INSTANCE, resourceLimits, STANDARD_PATH, ulimits, type ContainerShape } from './container.js';
import { describeEngineError, engineErrorFields } from './engine-errors.js';
import { endpointOf, engineClient, sharesFilesystem, type SharedFsSetting } from './engine-address.js';
import { numericOwner, ownerProblem, workspaceTar } from './workspace-in-container.js';
import { EngineEvents } from './engine-events.js';
import { unsettable } from './exec.js';
import { FifoDir } from './fifo-dir.js';
import { networkProblem } from './network-check.js';
import { cutsNetwork, describeRuntime, effectiveRuntime, engineRuntimes, ignoresCgroups, isGvisor, runtimeProblem, unknownRuntimeFix, type EngineRuntimes, type RuntimeEntry } from './oci-runtime.js';
import { WarmPool } from './warm-pool.js';
import { DockerSession, oomCounterOfContainer, removeContainer, type StartedContainer } from './docker-session.js';
import { fifoDirPrefix, removeFifoDirs } from '../shared/fifo-pool.js';
import type { GhostMounts } from '../shared/ghost-mounts.js';
import { isolatedUser } from '../shared/run-as.js';
import { dockerSeccompProfile, engineArch, type SeccompArch } from '../shared/seccomp/index.js';
import { guardWorkspace, type WorkspaceGuard } from '../shared/workspace-guard.js';
import { mountedWorkspaceProblem } from './workspace-mount-check.js';
import { pidOfInstance } from '../shared/instance-id.js';
import { daemonIsDead } from '../shared/process-table.js';
import { errorMessage } from '../shared/thrown.js';

/** Runtime variables a containerised shell gets; the daemon's others (credentials included) stay outside. */
const PASSED_VARS = ['LANG', 'LC_ALL', 'TZ', 'TERM'];
/** Added to every exec by the engine (HOSTNAME) and runc (HOME); unset unless the session has them, like the image's own variables. */
const ENGINE_VARS = ['HOSTNAME', 'HOME'];

/**
 * The docker tier: one container per session through the Docker Engine API —
 * the local socket or DOCKER_HOST (unix:// or tcp://), as dockerode resolves
 * it. Design: docs/docker-tier.md.
 */
/** What the docker tier is configured with (its own settings only). */
export interface DockerSettings {
  /** Image of sessions that name none. */
  image: string;
  /** --docker-user: USER or UID[:GID] in the image; undefined: as run-as.ts decides. */
  user: string | undefined;
  /** --isolated-user (UID[:GID]) for a root daemon. */
  isolatedUser: string | undefined;
  /** Network of sessions with network: true. */
  network: string;
  /** Shell of sessions that name none (a path in the image). */
  shell: string;
  /** Containers kept started for default sessions. */
  warmPool: number;
  /** The default sessions' workspace (what the warm pool starts containers for). */
  defaultWorkspace: string;
  /** --docker-runtime: the OCI runtime of every container (HostConfig.Runtime); undefined: the engine's default. */
  runtime: string | undefined;
  /** --docker-host: the engine (unix:///… or tcp://HOST:PORT); undefined: DOCKER_HOST, else the local socket. */
  host: string | undefined;
  /** --docker-shared-fs: whether the engine's machine shares this one's filesystem (engine-address.ts). */
  sharedFs: SharedFsSetting;
  /** --docker-health-timeout-s: how long the health check may take to start a container and run `true` in it. */
  healthTimeoutS: number;
}

export class DockerTier implements Tier {
  readonly name = 'docker' as const;
  readonly isolated = true;
  readonly images = true;
  readonly hostPaths = false;
  readonly defaultShell: string;
  readonly instanceId: string;
  private readonly settings: DockerSettings;
  private readonly ghosts: GhostMounts;
  /** Private directory of the daemon's: the empty directory mounted over ghosts, the health check's workspace. */
  private readonly dir: string;
  private readonly emptyDir: string;
  private readonly healthWorkspace: string;
  /** The engine's architecture, for the seccomp profile; known after the health check. */
  private arch: SeccompArch | null = null;
  /** The OCI runtime containers run under, as the engine registers it (oci-runtime.ts); known after the health check. */
  private oci: { name: string; entry: RuntimeEntry | undefined } | null = null;
  /** The engine's client and event stream; or why no client could be made (a malformed DOCKER_HOST), for the health check. */
  private readonly engine: { docker: Docker; events: EngineEvents } | { docker: null; events: null; error: string };
  private readonly pool: WarmPool | null;
  private readonly sessions = new Set<DockerSession>();
  private readonly host = hostname();
  /** Where the engine is reached (--docker-host, or DOCKER_HOST as it was at construction), for messages. */
  private readonly endpoint: string;
  /**
   * The engine's machine shares this one's filesystem: workspaces and FIFO
   * directories are bind-mounted. Else nothing is mounted, workspaces live in
   * the containers and only the inner path runs (docs/docker-tier.md#remote-engines).
   */
  private readonly sharedFs: boolean;

  constructor(opts: DockerSettings & { instanceId: string; ghosts: GhostMounts }) {
    this.instanceId = opts.instanceId;
    this.settings = opts;
    this.ghosts = opts.ghosts;
    this.defaultShell = opts.shell;
    this.endpoint = endpointOf(opts.host);
    this.sharedFs = sharesFilesystem(opts.sharedFs, this.endpoint);
    this.dir = mkdtempSync(join(tmpdir(), fifoDirPrefix(opts.instanceId)));
    chmodSync(this.dir, 0o711);
    this.emptyDir = join(this.dir, 'none');
    mkdirSync(this.emptyDir, { mode: 0o555 });
    this.healthWorkspace = join(this.dir, 'health');
    mkdirSync(this.healthWorkspace);
    chmodSync(this.healthWorkspace, 0o1777);
    let docker: Docker | null = null;
    try {
      docker = engineClient(opts.host);
      this.engine = { docker, events: new EngineEvents(docker, this.instanceId) };
    } catch (err) {
      const error = `cannot set up a docker client from ${opts.host === undefined ? 'DOCKER_HOST' : '--docker-host'}/DOCKER_CERT_PATH (${errorMessage(err)}): set it to unix:///path/to/docker.sock or tcp://host:port`;
      this.engine = { docker: null, events: null, error };
    }
    this.pool = docker && opts.warmPool > 0 ? new WarmPool(opts.warmPool, (shape) => this.startContainer(shape, `pool-${randomBytes(4).toString('hex')}`, {}), removeContainer) : null;
  }

  async healthCheck(): Promise<TierHealth> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<TierHealth>((resolve) => {
      timer = setTimeout(
        () =>
          resolve(
            this.unhealthy(
              `the docker engine at ${this.endpoint} did not start a container and run \`true\` in it within ${this.settings.healthTimeoutS} s: check dockerd (docker info); a slow engine or a busy machine may need a larger --docker-health-timeout-s`,
            ),
          ),
        this.settings.healthTimeoutS * 1000,
      );
    });
    try {
      return await Promise.race([this.check(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private unhealthy(detail: string): TierHealth {
    return { available: false, isolated: true, detail };
  }

  /** Really start a container from the default image and run a command in it, with its state FIFO. */
  private async check(): Promise<TierHealth> {
    if (this.engine.docker === null) return this.unhealthy(this.engine.error);
    const docker = this.engine.docker;
    const image = this.settings.image;
    let version: Docker.DockerVersion;
    let runtimes: EngineRuntimes;
    try {
      version = await docker.version();
      ({ arch: this.arch, runtimes } = await engineFacts(docker));
    } catch (err) {
      return this.unhealthy(describeEngineError(err, { endpoint: this.endpoint }));
    }
    if (!this.arch) return this.unhealthy(`the engine's machine is ${version.Arch}: trl has seccomp profiles for x86_64 and aarch64 only`);
    const runtimeFix = runtimeProblem(this.settings.runtime, runtimes, this.endpoint);
    if (runtimeFix) return this.unhealthy(runtimeFix);
    this.oci = ociOf(this.settings.runtime, runtimes);
    let session: DockerSession | null = null;
    try {
      const shape = this.shapeOf({ network: false, image: undefined, workspace: this.healthWorkspace });
      session = this.track(await this.startContainer(shape, `health-${randomBytes(4).toString('hex')}`, {}), 'health');
      const proc = await session.spawn({
        program: { kind: 'shell', shell: this.defaultShell, script: 'true' },
        env: { PATH: STANDARD_PATH },
        cwd: '/',
        stdin: 'ignore',
        stateFd: true,
        commandTag: 'health',
      });
      proc.stdout.resume();
      proc.stderr.resume();
      proc.state?.resume();
      const status = await proc.exited;
      if (status.code !== 0) {
        return this.unhealthy(
          `\`${this.defaultShell} -c true\` in a fresh container of ${image} exited ${status.code ?? status.signal}: the image needs ${this.defaultShell} and /bin/sh (set --docker-shell or --docker-image)`,
        );
      }
    } catch (err) {
      return this.unhealthy(errorMessage(err));
    } finally {
      await session?.destroy(0);
    }
    try {
      this.pool?.fill(this.shapeOf({ network: false, image: undefined, workspace: this.settings.defaultWorkspace }));
    } catch {
      /* the default workspace cannot be one (its user cannot write it): nothing to keep warm */
    }
    // The tier works without it; sessions asking for a network are refused (createSession) until it is fixed.
    const network = await networkProblem(docker, this.settings.network, this.endpoint);
    return {
      available: true,
      isolated: true,
      detail:
        `docker engine ${version.Version} (API ${version.ApiVersion}) at ${this.endpoint}: a container per session from ${image} as ${this.settings.user ?? 'an unprivileged user'}, ` +
        `no capabilities, no-new-privileges, ` +
        (this.oci.entry && isGvisor(this.oci.entry)
          ? "gVisor's own kernel between commands and the host's (runsc applies no seccomp profile to execs; host Unix sockets out of reach unless runsc has --host-uds)"
          : 'seccomp (no Unix sockets without network, no keyrings)') +
        `, network none unless asked (then ${this.settings.network})` +
        (this.pool ? `, ${this.settings.warmPool} warm` : '') +
        `; OCI runtime ${describeRuntime(this.oci.name, runtimes)}` +
        (ignoresCgroups(this.oci.entry) ? ': it ignores cgroups, so sessions asking for memory_bytes, pids or cpu_percent are refused' : '') +
        (cutsNetwork(this.oci.entry) ? '; its sandbox has no network (--network=none), so sessions with network: true have loopback only' : '') +
        (network ? `; sessions with network: true are refused: ${network}` : '') +
        (this.sharedFs
          ? ''
          : '; no filesystem shared with the engine: nothing is mounted, each workspace lives in its container, files travel through the protocol, and only images with trl inside (label dev.trl.inner) run'),
    };
  }

  /** The engine, the default image in it, and the network for network: true sessions. */
  async requirements(): Promise<Requirement[]> {
    const reqs: Requirement[] = [];
    if (this.engine.docker === null) return [{ need: `a docker engine (DOCKER_HOST)`, present: false, found: this.engine.error }];
    const docker = this.engine.docker;
    const image = this.settings.image;
    const network = this.settings.network;
    try {
      const v = await docker.version();
      reqs.push({ need: 'a docker engine (local socket or DOCKER_HOST)', present: true, found: `${v.Version} (API ${v.ApiVersion}) at ${this.endpoint}` });
    } catch (err) {
      reqs.push({ need: 'a docker engine (local socket or DOCKER_HOST)', present: false, found: describeEngineError(err, { endpoint: this.endpoint }) });
      return reqs;
    }
    const found = (what: () => Promise<string>, fix: (err: unknown) => string): Promise<[boolean, string]> =>
      what().then(
        (s) => [true, s],
        (err) => [false, fix(err)],
      );
    const [[hasImage, imageFound], [hasNetwork, networkFound]] = await Promise.all([
      found(
        async () => {
          const i = await docker.getImage(image).inspect();
          return `${image} (${i.Id.slice(7, 19)}, ${(i.Size / 1e6).toFixed(1)} MB)`;
        },
        // Whatever the engine says, the image could not be looked up: say so if its words fit a missing image.
        (err) => describeEngineError({ ...engineErrorFields(err), statusCode: 404 }, { endpoint: this.endpoint, image }),
      ),
      found(
        async () => {
          const problem = await networkProblem(docker, network, this.endpoint);
          if (problem) throw new Error(problem);
          return network.startsWith('container:') ? network : `${network} (${(await docker.getNetwork(network).inspect()).Driver} driver)`;
        },
        (err) => (err as Error).message,
      ),
    ]);
    reqs.push({ need: `the default image (--docker-image) with ${this.defaultShell}`, present: hasImage, found: imageFound });
    reqs.push(await this.runtimeRequirement(docker));
    reqs.push({ need: 'the network of network: true sessions (--docker-network)', present: hasNetwork, found: networkFound, optional: true });
    if (this.sharedFs) {
      reqs.push({ need: "workspaces on the engine's host (bind mounts; --docker-shared-fs)", present: true, found: `${this.endpoint}: shares this machine's filesystem` });
    } else {
      const problem = hasImage ? await this.innerTrlProblem(docker, image) : `${image} is not in the engine`;
      reqs.push({
        need: 'a default image with trl inside (--docker-shared-fs no: no filesystem shared with the engine)',
        present: problem === null,
        found: problem ?? `workspaces live in the containers; ${image} has trl inside`,
      });
    }
    return reqs;
  }

  /** The OCI runtime of sessions (--docker-runtime) and the ones the engine offers (`docker info` Runtimes). */
  private async runtimeRequirement(docker: Docker): Promise<Requirement> {
    const need = 'the OCI runtime of sessions (--docker-runtime)';
    let runtimes: EngineRuntimes;
    try {
      runtimes = (await engineFacts(docker)).runtimes;
    } catch (err) {
      return { need, present: false, found: describeEngineError(err, { endpoint: this.endpoint }) };
    }
    const offered = `the engine offers ${[...runtimes.offered.keys()].sort().join(', ') || 'none'}`;
    const problem = runtimeProblem(this.settings.runtime, runtimes, this.endpoint);
    if (problem) return { need, present: false, found: problem };
    const name = effectiveRuntime(this.settings.runtime, runtimes);
    const limits = ignoresCgroups(runtimes.offered.get(name)) ? '; it ignores cgroups: no memory, CPU or pids limits' : '';
    return { need, present: true, found: `${describeRuntime(name, runtimes)}${this.settings.runtime === undefined ? ", the engine's default" : ''}${limits} (${offered})` };
  }

  enforcement(): Enforcement {
    if (ignoresCgroups(this.oci?.entry)) {
      return {
        process_tracking: 'container-exec-tag',
        limits: 'container-ulimits',
        detail: `one container per session under ${this.oci?.name ?? 'gVisor'} (gVisor, which ignores cgroups here); commands are execs carrying a tag that an in-container exec finds in /proc (with their descendants) to signal a tree; only cpu_s and nofile (ulimits) are enforced: sessions asking for memory_bytes, pids or cpu_percent are refused`,
      };
    }
    return {
      process_tracking: 'container-exec-tag',
      limits: 'container-cgroup',
      detail:
        "one container per session; commands are execs carrying a tag that an in-container exec finds in /proc (with their descendants) to signal a tree; memory, CPU and pids are the container's cgroup limits, cpu_s and nofile its ulimits",
    };
  }

  /** Only what a shell needs: the daemon's own variables (credentials included) stay outside the container. */
  baseEnv(runtimeEnv: ReadonlyMap<string, string>): Map<string, string> {
    // Commands never run as root (run-as.ts): the image's /root is not theirs.
    const env = new Map<string, string>([
      ['PATH', STANDARD_PATH],
      ['HOME', '/tmp'],
    ]);
    for (const k of PASSED_VARS) {
      const v = runtimeEnv.get(k);
      if (v !== undefined) env.set(k, v);
    }
    return env;
  }

  async createSession(opts: SessionOptions): Promise<TierSession> {
    const shape = this.shapeOf(opts);
    // A limit the runtime would silently not enforce is refused rather than promised.
    const unenforced = ignoresCgroups(this.oci?.entry) ? Object.keys(resourceLimits(opts.limits)).filter((k) => k !== 'MemorySwap') : [];
    if (unenforced.length > 0) {
      throw new Error(
        `the docker tier's runtime ${this.oci?.name ?? ''} (gVisor) ignores cgroups here, so limits.memory_bytes, limits.pids and limits.cpu_percent cannot be enforced: ` +
          'leave them out, or ask the operator for a runtime that enforces them (runsc registered without --ignore-cgroups where gVisor can manage cgroups, or runc)',
      );
    }
    // Asked each time: an operator may create the network while the daemon runs.
    if (opts.network && this.engine.docker) {
      const problem = await networkProblem(this.engine.docker, this.settings.network, this.endpoint);
      if (problem) throw new Error(problem);
    }
    // Once per daemon: exits are then reported by events from the first command on.
    await this.engine.events?.ready();
    let started: StartedContainer | null = null;
    if (this.pool && ulimits(opts.limits).length === 0) {
      started = await this.pool.take(shape);
      // The workspace changed since the warm container was made (a .git appeared): its guard is stale.
      if (started && this.sharedFs && guardKey(guardWorkspace(opts.workspace, this.ghosts)) !== started.guardKey) {
        await removeContainer(started);
        started = null;
      }
      const update = resourceLimits(opts.limits);
      if (started && Object.keys(update).length > 0) {
        try {
          await started.container.update(update);
        } catch {
          await removeContainer(started);
          started = null;
        }
      }
    }
    started ??= await this.startContainer(shape, opts.sessionTag, opts.limits);
    return this.track(started, opts.sessionTag);
  }

  /** The container a session needs; throws WorkspaceAccessError when its user cannot write the workspace. */
  private shapeOf(opts: Pick<SessionOptions, 'network' | 'image' | 'workspace'>): ContainerShape {
    return {
      image: opts.image ?? this.settings.image,
      network: opts.network ? this.settings.network : null,
      workspace: opts.workspace,
      user: this.userFor(opts.workspace),
    };
  }

  /**
   * USER or UID:GID of a session's container and execs: the operator's
   * docker_user, else as run-as.ts decides (never root), else (a daemon that
   * is not root) the daemon's own uid:gid, so workspace files stay its own.
   */
  private userFor(workspace: string): string {
    if (this.settings.user !== undefined) return this.settings.user;
    const who = isolatedUser(this.settings.isolatedUser, workspace);
    return who ? `${who.uid}:${who.gid}` : `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  }

  private track(started: StartedContainer, sessionTag: string): DockerSession {
    if (this.engine.events === null) throw new Error(this.engine.error); // no container can have started
    const session = new DockerSession(
      {
        events: this.engine.events,
        user: started.user,
        instanceId: this.instanceId,
        onDestroyed: (s) => this.sessions.delete(s),
      },
      started,
      sessionTag,
    );
    this.sessions.add(session);
    return session;
  }

  /** Create and start one container with its FIFO directory; on failure nothing is left behind. */
  private async startContainer(shape: ContainerShape, sessionTag: string, limits: SessionLimits): Promise<StartedContainer> {
    if (this.engine.docker === null) throw new Error(this.engine.error);
    const docker = this.engine.docker;
    if (!this.arch || !this.oci) {
      const facts = await engineFacts(docker);
      this.arch ??= facts.arch;
      this.oci ??= ociOf(this.settings.runtime, facts.runtimes);
    }
    if (!this.arch) throw new Error("the engine's machine has no seccomp profile of trl's (x86_64 and aarch64 only)");
    const oci = this.oci;
    // No shared filesystem: the workspace the daemon makes in the container is owned by the user (a numeric one).
    const owner = this.sharedFs ? null : numericOwner(shape.user);
    if (!this.sharedFs) {
      const problem = ownerProblem(shape.user) ?? (await this.innerTrlProblem(docker, shape.image));
      if (problem) throw new Error(problem);
    }
    const guard = this.sharedFs ? guardWorkspace(shape.workspace, this.ghosts) : NO_GUARD;
    const seccomp = dockerSeccompProfile({ arch: this.arch, blockUnixSockets: shape.network === null });
    const fifos = this.sharedFs ? await FifoDir.create(this.instanceId) : null;
    const gvisor = oci.entry !== undefined && isGvisor(oci.entry);
    this.ghosts.acquire(guard.ghosts);
    let container: Docker.Container | null = null;
    try {
      container = await docker.createContainer(
        containerConfig({
          ...shape,
          instanceId: this.instanceId,
          host: this.host,
          sessionTag,
          limits,
          binds: fifos ? { fifoDir: fifos.dir, guard: { ...guard, emptyDir: this.emptyDir } } : null,
          seccomp,
          runtime: this.settings.runtime,
          gvisor,
        }),
      );
      // No shared filesystem: the workspace is the container's own directory, made before anything runs there.
      if (owner) await container.putArchive(workspaceTar(shape.workspace, owner), { path: '/' });
      await container.start();
      // After the start: one look gives the image's variables and the main process (for the OOM counter).
      const info = await container.inspect();
      // The workspace was checked by path, and the engine mounted the path: the same directory? (workspace-mount-check.ts)
      const swapped = fifos && !gvisor ? mountedWorkspaceProblem(info.State.Pid, shape.workspace) : null;
      if (swapped) throw new WorkspaceSwapped(swapped);
      const keys = new Set([...(info.Config.Env ?? []).map((e) => e.slice(0, e.indexOf('='))), ...ENGINE_VARS]);
      return {
        container,
        fifos,
        engine: this.endpoint,
        image: shape.image,
        runtime: oci.name,
        user: shape.user,
        workspace: shape.workspace,
        imageEnvKeys: [...keys].filter(unsettable),
        innerTrl: innerTrlOf(info.Config.Labels),
        // The engine's pids and cgroups are this machine's only when it shares the filesystem (/proc, /sys).
        oomCounter: fifos ? oomCounterOfContainer(container.id, info.State.Pid) : null,
        guardKey: guardKey(guard),
        release: () => this.ghosts.release(guard.ghosts),
      };
    } catch (err) {
      await container?.remove({ force: true, v: true }).catch(() => undefined);
      fifos?.remove();
      this.ghosts.release(guard.ghosts);
      if (err instanceof WorkspaceSwapped) throw err;
      const fix = unknownRuntimeFix(engineErrorFields(err).message, this.settings.runtime, this.endpoint);
      throw new Error(fix ?? describeEngineError(err, { endpoint: this.endpoint, image: shape.image, network: shape.network, workspace: shape.workspace }), { cause: err });
    }
  }

  /**
   * Why `image` cannot run on an engine that shares no filesystem, with the
   * fix; null when it can: it must have trl inside (the exec path needs the
   * state FIFOs on a shared directory).
   */
  private async innerTrlProblem(docker: Docker, image: string): Promise<string | null> {
    let labels: Record<string, string> | undefined;
    try {
      labels = (await docker.getImage(image).inspect()).Config.Labels ?? undefined;
    } catch (err) {
      return describeEngineError(err, { endpoint: this.endpoint, image });
    }
    if (innerTrlOf(labels) === null) {
      return (
        `the image ${image} has no trl inside (no ${LABEL_INNER_TRL} label), and the docker engine at ${this.endpoint} shares no filesystem with this daemon (--docker-shared-fs), ` +
        `so its commands cannot run as docker execs (their state comes back through FIFOs in a shared directory): use an image with trl inside ` +
        `(scripts/build-trl-image.sh or the Dockerfile; any image with node >= 20, trl and the label ${LABEL_INNER_TRL}=/path/to/trl), or an engine on this machine with --docker-shared-fs yes`
      );
    }
    return null;
  }

  /** Containers of this machine's trl daemons, by instance id. */
  private async containersByInstance(): Promise<Map<string, string[]>> {
    const byInstance = new Map<string, string[]>();
    if (this.engine.docker === null) return byInstance;
    const list = await this.engine.docker.listContainers({ all: true, filters: { label: [LABEL_INSTANCE, `${LABEL_HOST}=${this.host}`] } });
    for (const c of list) {
      const id = c.Labels[LABEL_INSTANCE];
      if (id) byInstance.set(id, [...(byInstance.get(id) ?? []), c.Id]);
    }
    return byInstance;
  }

  async deadInstances(): Promise<string[]> {
    let byInstance: Map<string, string[]>;
    try {
      byInstance = await this.containersByInstance();
    } catch {
      return []; // no engine: nothing of ours can be running in it
    }
    return [...byInstance.keys()].filter((id) => {
      if (id === this.instanceId) return false;
      const pid = pidOfInstance(id);
      return pid !== null && daemonIsDead(pid);
    });
  }

  /** Force-remove a dead instance's containers and its FIFO directories; returns how many containers went. */
  async reapInstance(instanceId: string): Promise<number> {
    removeFifoDirs(instanceId);
    const docker = this.engine.docker;
    if (docker === null) return 0;
    let ids: string[];
    try {
      ids = (await this.containersByInstance()).get(instanceId) ?? [];
    } catch {
      return 0;
    }
    const removed = await Promise.all(
      ids.map((id) =>
        docker
          .getContainer(id)
          .remove({ force: true, v: true })
          .then(() => 1)
          .catch(() => 0),
      ),
    );
    return removed.reduce<number>((a, b) => a + b, 0);
  }

  /** Remove the warm pool and every container this instance still has. */
  async close(): Promise<void> {
    await this.pool?.close();
    await Promise.all([...this.sessions].map((s) => s.destroy(0)));
    const docker = this.engine.docker;
    if (docker) {
      try {
        const leftovers = (await this.containersByInstance()).get(this.instanceId) ?? [];
        await Promise.all(
          leftovers.map((id) =>
            docker
              .getContainer(id)
              .remove({ force: true, v: true })
              .catch(() => undefined),
          ),
        );
      } catch {
        /* engine gone: the next start reaps them */
      }
    }
    this.engine.events?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The container did not get the workspace that was checked (mountedWorkspaceProblem). */
class WorkspaceSwapped extends Error {}

/** A workspace that lives in the container has no host files to guard. */
const NO_GUARD: WorkspaceGuard = { mountPoints: [], readOnly: [], ghosts: [] };

/** What a warm container's guard must match to serve a session. */
function guardKey(g: WorkspaceGuard): string {
  return JSON.stringify([g.mountPoints, g.readOnly, g.ghosts]);
}

/** From `docker info`: the engine's machine, for the seccomp profile (null: trl has no profile for it), and its OCI runtimes. */
async function engineFacts(docker: Docker): Promise<{ arch: SeccompArch | null; runtimes: EngineRuntimes }> {
  // dockerode types info() as any: it is the engine's JSON, of which only Architecture and the runtimes are read.
  const info = (await docker.info()) as { Architecture?: unknown };
  return { arch: engineArch(typeof info.Architecture === 'string' ? info.Architecture : ''), runtimes: engineRuntimes(info) };
}

/** The runtime containers run under and its registration (undefined: the engine does not list it). */
function ociOf(configured: string | undefined, runtimes: EngineRuntimes): { name: string; entry: RuntimeEntry | undefined } {
  const name = effectiveRuntime(configured, runtimes);
  return { name, entry: runtimes.offered.get(name) };
}

/** The image's trl for the inner path (label dev.trl.inner: an absolute path inside), or null. */
function innerTrlOf(labels: Record<string, string> | undefined | null): string | null {
  const path = labels?.[LABEL_INNER_TRL];
  return path && path.startsWith('/') && !path.includes('\0') ? path : null;
}
